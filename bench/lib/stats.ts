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

export const mean = (samples: number[]): number =>
  samples.reduce((sum, value) => sum + value, 0) / samples.length;

// Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom; 1.96 beyond.
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/** Mean and 95% confidence interval of the mean (Student's t; needs at least 2 samples). */
export function meanInterval(samples: number[]): { mean: number; low: number; high: number } {
  const m = mean(samples);
  if (samples.length < 2) return { mean: m, low: NaN, high: NaN };
  const variance = samples.reduce((sum, value) => sum + (value - m) ** 2, 0) / (samples.length - 1);
  const half = (T_975[samples.length - 2] ?? 1.96) * Math.sqrt(variance / samples.length);
  return { mean: m, low: m - half, high: m + half };
}

/** (third quartile − first quartile) ÷ median: how far the middle half of the samples spreads. */
export const interquartileSpread = (samples: number[]): number =>
  (percentile(samples, 0.75) - percentile(samples, 0.25)) / median(samples);

/** (largest − smallest) ÷ median. */
export const rangeSpread = (samples: number[]): number =>
  (Math.max(...samples) - Math.min(...samples)) / median(samples);
