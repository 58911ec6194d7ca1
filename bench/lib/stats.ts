/** The value below which `fraction` of the sorted samples fall (nearest rank). */
export function percentile(samples: number[], fraction: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export const median = (samples: number[]): number => percentile(samples, 0.5);

/** A number for a table: at most `digits` decimals, no trailing zeros beyond what matters. */
export function fixed(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toFixed(digits);
}

/** Milliseconds since `start` (from `performance.now()`). */
export const since = (start: number): number => performance.now() - start;

/** A Markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** P(X ≤ k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(n: number, k: number): number {
  let term = 0.5 ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i += 1) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * Median of the samples and a distribution-free 95% confidence interval of it: the order statistics
 * the sign test gives, so a few windows hit by another process's burst of work cannot move it much.
 * Needs 6 samples or more for a bound; fewer give NaN bounds.
 */
export function medianInterval(samples: number[]): { median: number; low: number; high: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  let k = 0; // the largest k with P(X < k) ≤ 2.5%, 1-based rank of the lower bound
  while (k < n && binomialHalfCdf(n, k) <= 0.025) k += 1;
  return {
    median: median(sorted),
    low: k >= 1 ? sorted[k - 1] : NaN,
    high: k >= 1 ? sorted[n - k] : NaN,
  };
}

/** (third quartile − first quartile) ÷ median: how far the middle half of the samples spreads. */
export const interquartileSpread = (samples: number[]): number =>
  (percentile(samples, 0.75) - percentile(samples, 0.25)) / median(samples);

/** (largest − smallest) ÷ median. */
export const rangeSpread = (samples: number[]): number =>
  (Math.max(...samples) - Math.min(...samples)) / median(samples);

/**
 * Collects garbage now when node runs with `--expose-gc` (`npm run bench` does), so a measured step
 * does not pay for what an earlier one left behind.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Collects V8's young generation now (a full collection before each step of a few milliseconds made
 * the steps after it several times slower here).
 */
function collectYoungGarbage(): void {
  const gc = (globalThis as { gc?: (options: { type: 'minor' }) => void }).gc;
  if (gc === undefined) {
    throw new Error('Run node with --expose-gc: steps are measured with their own collection.');
  }
  gc({ type: 'minor' });
}

/**
 * Like {@link withCpuMs}, for a step of a few milliseconds, which one collection of the young
 * generation can cost as much as. A collection costs what is still alive in the young generation: it
 * is collected twice before the step, not counted, so that what earlier steps left alive is moved out
 * of it, and once after the step, counted, which copies what the step allocated and left alive. So a
 * step pays for its own allocations, not for an earlier step's, whenever a collection falls.
 */
export async function withOwnGarbageCpuMs<T>(
  run: () => Promise<T>,
): Promise<{ value: T; cpuMs: number }> {
  collectYoungGarbage();
  collectYoungGarbage();
  return withCpuMs(async () => {
    const value = await run();
    collectYoungGarbage();
    return value;
  });
}

/** Runs `run` and gives what it returned with the CPU this process spent meanwhile (user + system, ms). */
export async function withCpuMs<T>(run: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const before = process.cpuUsage();
  const value = await run();
  const used = process.cpuUsage(before);
  return { value, cpuMs: (used.user + used.system) / 1000 };
}
