import { spawn } from 'node:child_process';

import autocannon from 'autocannon';
import { Redis } from 'ioredis';

import { HOT_PATH_MODES, type HotPathMode } from './hot-path/modes.js';
import { commandCalls } from './lib/private-redis.js';
import { median } from './lib/stats.js';

const server = new URL('./hot-path/server.js', import.meta.url).pathname;
let nextPort = 41_000 + (process.pid % 1000) * 10;

/** One NestJS worker of the given design, listening on its own port. */
async function startServer(mode: HotPathMode, redisUrl: string) {
  const port = (nextPort += 1);
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, BENCH_MODE: mode, BENCH_REDIS_URL: redisUrl, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the ${mode} server exited with ${code}`)));
    child.stdout!.on('data', (chunk) => String(chunk).includes('listening') && resolve());
  });
  child.removeAllListeners('exit');
  return {
    url: `http://127.0.0.1:${port}/work`,
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
  const result = await autocannon({ url, connections: 10, duration: seconds, overallRate });
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`${url}: ${result.errors} errors and ${result.non2xx} non-2xx answers`);
  }
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

/** Throughput and latency of one design, the median over its rounds. */
export interface HotPathResult extends LoadResult {
  mode: HotPathMode;
  description: string;
  rounds: number;
  /** (slowest − fastest round) ÷ median, requests per second: how much the machine drifts. */
  spread: number;
}

/**
 * Requests per second and latency of one worker per design, under 10 connections for `seconds`,
 * `rounds` times; the designs take turns in each round so drift hits them all alike.
 */
export async function benchHotPath(
  redisUrl: string,
  {
    seconds,
    rounds,
    modes = Object.keys(HOT_PATH_MODES) as HotPathMode[],
  }: { seconds: number; rounds: number; modes?: HotPathMode[] },
): Promise<HotPathResult[]> {
  const samples = new Map<HotPathMode, LoadResult[]>(modes.map((mode) => [mode, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const mode of [
      ...modes.slice(round % modes.length),
      ...modes.slice(0, round % modes.length),
    ]) {
      const running = await startServer(mode, redisUrl);
      await load(running.url, 1); // warm-up: JIT, connections, first flush
      const result = await load(running.url, seconds);
      samples.get(mode)!.push(result);
      console.log(
        `  hot path ${mode}, round ${round + 1}: ${result.requestsPerSecond.toFixed(0)} req/s, p99 ${result.p99Ms} ms`,
      );
      await running.stop();
    }
  }
  return modes.map((mode) => {
    const runs = samples.get(mode)!;
    return {
      mode,
      description: HOT_PATH_MODES[mode],
      rounds: runs.length,
      spread:
        (Math.max(...runs.map((r) => r.requestsPerSecond)) -
          Math.min(...runs.map((r) => r.requestsPerSecond))) /
        median(runs.map((r) => r.requestsPerSecond)),
      requests: median(runs.map((r) => r.requests)),
      requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
    };
  });
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
