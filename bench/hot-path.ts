import { spawn } from 'node:child_process';

import autocannon from 'autocannon';
import { Redis } from 'ioredis';

import { DEFAULT_HOT_PATH_MODES, HOT_PATH_MODES, type HotPathMode } from './hot-path/modes.js';
import { commandCalls } from './lib/private-redis.js';
import { median, medianInterval } from './lib/stats.js';

const server = new URL('./hot-path/server.js', import.meta.url).pathname;
/** One NestJS worker of the given design, listening on its own port. */
async function startServer(mode: HotPathMode, redisUrl: string) {
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, BENCH_MODE: mode, BENCH_REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${mode} server exited with ${code}`)));
    child.stdout!.on('data', (chunk) => {
      const listening = /listening on (\d+)/.exec(String(chunk));
      if (listening) resolve(listening[1]);
    });
  });
  child.removeAllListeners('exit');
  return {
    url: `http://127.0.0.1:${port}/work`,
    /** CPU the server has used so far (user + system), µs. */
    cpuMicros: () =>
      new Promise<number>((resolve) => {
        child.once('message', (usage) => {
          const { user, system } = usage as NodeJS.CpuUsage;
          resolve(user + system);
        });
        child.send('cpu');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

async function load(url: string, seconds: number, overallRate?: number): Promise<LoadResult> {
  const started = performance.now();
  // autocannon stops at a sample tick: every 100 ms, so that a window is as long as asked.
  const result = await autocannon({
    url,
    connections: 10,
    duration: seconds,
    overallRate,
    sampleInt: 100,
  });
  const elapsedS = (performance.now() - started) / 1000;
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${url}: ${result.errors} errors and ${result.non2xx} non-2xx answers`);
  }
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / elapsedS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** One measured window of one design. */
export interface HotPathWindow extends LoadResult {
  round: number;
  /** Which set of server processes served it (see `benchHotPath`). */
  epoch: number;
  /** The server's CPU (user + system) in the window ÷ the requests it answered, µs. */
  cpuMicrosPerRequest: number;
}

/** One design's windows, one per round. */
export interface HotPathResult {
  mode: HotPathMode;
  description: string;
  windows: HotPathWindow[];
  /**
   * The server's CPU (user + system, every thread) per second of a window with no request at all,
   * ms, one per epoch: what its background work costs (timers, the module's flushes, collecting
   * default metrics), which a loaded server pays too, spread over its requests.
   */
  idleCpuMsPerSecond: number[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Requests per second and server CPU per request of one worker per design, under 10 connections.
 * `rounds` times each design serves a window of `seconds`, in the order of `modes` in even rounds and
 * the reverse in odd ones: a design and the baseline next to it in `modes` serve back to back, first
 * one then the other, so the machine's drift (other processes on its two cores) reaches both alike.
 * The rounds are split into `epochs`, each with fresh server processes (started and warmed up all
 * together): two processes of one design differ by a few percent for their whole life (JIT and memory
 * layout), which only new processes average out.
 */
export async function benchHotPath(
  redisUrl: string,
  {
    seconds,
    rounds,
    epochs,
    warmUpSeconds,
    idleSeconds,
    modes = DEFAULT_HOT_PATH_MODES,
  }: {
    seconds: number;
    rounds: number;
    epochs: number;
    warmUpSeconds: number;
    idleSeconds: number;
    modes?: HotPathMode[];
  },
): Promise<HotPathResult[]> {
  const windows = new Map<HotPathMode, HotPathWindow[]>(modes.map((mode) => [mode, []]));
  const idle = new Map<HotPathMode, number[]>(modes.map((mode) => [mode, []]));
  let round = 0;
  for (let epoch = 0; epoch < epochs; epoch += 1) {
    const servers = new Map<HotPathMode, Awaited<ReturnType<typeof startServer>>>();
    try {
      await Promise.all(
        modes.map(async (mode) => servers.set(mode, await startServer(mode, redisUrl))),
      );
      // JIT, connections, first flush.
      await Promise.all([...servers.values()].map((running) => load(running.url, warmUpSeconds)));
      for (const end = Math.round(((epoch + 1) * rounds) / epochs); round < end; round += 1) {
        for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
          const running = servers.get(mode)!;
          const cpuBefore = await running.cpuMicros();
          const result = await load(running.url, seconds);
          const cpu = (await running.cpuMicros()) - cpuBefore;
          const window = { ...result, round, epoch, cpuMicrosPerRequest: cpu / result.requests };
          windows.get(mode)!.push(window);
          console.log(
            `  hot path round ${round + 1}/${rounds} ${mode}: ${result.requestsPerSecond.toFixed(0)} req/s, ${window.cpuMicrosPerRequest.toFixed(1)} µs CPU/request`,
          );
        }
      }
      // Every server idle at once, after a second for the last load's flushes to settle.
      await sleep(1000);
      const before = await Promise.all(modes.map((mode) => servers.get(mode)!.cpuMicros()));
      const idleFrom = performance.now();
      await sleep(idleSeconds * 1000);
      const after = await Promise.all(modes.map((mode) => servers.get(mode)!.cpuMicros()));
      const idleS = (performance.now() - idleFrom) / 1000;
      modes.forEach((mode, i) => idle.get(mode)!.push((after[i] - before[i]) / 1000 / idleS));
      console.log(
        `  hot path idle, epoch ${epoch + 1}/${epochs}: ${modes.map((mode) => `${mode} ${idle.get(mode)!.at(-1)!.toFixed(1)}`).join(', ')} ms CPU/s`,
      );
    } finally {
      await Promise.all([...servers.values()].map((running) => running.stop()));
    }
  }
  return modes.map((mode) => ({
    mode,
    description: HOT_PATH_MODES[mode],
    windows: windows.get(mode)!,
    idleCpuMsPerSecond: idle.get(mode)!,
  }));
}

type Interval = { median: number; low: number; high: number };

/**
 * One design against a baseline: each round of the design divided by (or minus) the same round of
 * the baseline, the median of those per epoch, and the median of the epochs with a distribution-free
 * 95% interval over them (at least 6 epochs), so that the processes' own differences are in it.
 */
export interface HotPathComparison {
  /** Requests per second ÷ the baseline's. */
  throughputRatio: Interval;
  /** Server CPU per request ÷ the baseline's. */
  cpuRatio: Interval;
  /** Server CPU per request minus the baseline's, µs. */
  extraCpuMicros: Interval;
}

/** Pairs each round of `design` with the same round of `baseline`; see {@link HotPathComparison}. */
export function compareHotPath(design: HotPathResult, baseline: HotPathResult): HotPathComparison {
  const pairs = design.windows.map(
    (window) => [window, baseline.windows.find((other) => other.round === window.round)!] as const,
  );
  const epochs = [...new Set(pairs.map(([d]) => d.epoch))];
  const over = (value: (d: HotPathWindow, b: HotPathWindow) => number) =>
    medianInterval(
      epochs.map((epoch) =>
        median(pairs.filter(([d]) => d.epoch === epoch).map(([d, b]) => value(d, b))),
      ),
    );
  return {
    throughputRatio: over((d, b) => d.requestsPerSecond / b.requestsPerSecond),
    cpuRatio: over((d, b) => d.cpuMicrosPerRequest / b.cpuMicrosPerRequest),
    extraCpuMicros: over((d, b) => d.cpuMicrosPerRequest - b.cpuMicrosPerRequest),
  };
}

/** Redis traffic of one design at one request rate. */
export interface RedisLoadResult {
  mode: 'module' | 'write-through';
  targetRate: number;
  requests: number;
  commands: number;
  commandsPerRequest: number;
  commandsPerSecond: number;
  /** Calls per Redis command name, in the measured window. */
  byCommand: Record<string, number>;
}

/**
 * Redis commands per request at steady state (INFO commandstats over the window), for this module and
 * for a write-through design, at each of `rates` requests per second.
 */
export async function benchRedisLoad(
  redisUrl: string,
  { seconds, rates }: { seconds: number; rates: number[] },
): Promise<RedisLoadResult[]> {
  const results: RedisLoadResult[] = [];
  const stats = new Redis(redisUrl);
  try {
    for (const mode of ['module', 'write-through'] as const) {
      for (const rate of rates) {
        const running = await startServer(mode, redisUrl);
        await load(running.url, 1, rate); // steady state: set-up and first flush done
        await stats.config('RESETSTAT');
        const result = await load(running.url, seconds, rate);
        const calls = await commandCalls(stats);
        await running.stop();
        const commands = [...calls.values()].reduce((a, b) => a + b, 0);
        results.push({
          mode,
          targetRate: rate,
          requests: result.requests,
          commands,
          commandsPerRequest: commands / result.requests,
          commandsPerSecond: commands / seconds,
          byCommand: Object.fromEntries(calls),
        });
        console.log(
          `  redis load ${mode} at ${rate} req/s: ${(commands / result.requests).toFixed(3)} commands per request`,
        );
      }
    }
  } finally {
    stats.disconnect();
  }
  return results;
}
