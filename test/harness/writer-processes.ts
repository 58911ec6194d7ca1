import { spawn, type ChildProcess } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';

import { testRedisUrl } from './test-redis.js';

const fixture = new URL('../fixtures/writer-process.mjs', import.meta.url).pathname;

/** What a writer process makes before it reports ready (see test/fixtures/writer-process.mjs). */
export interface WriterPlan {
  counters?: { name: string; help?: string; labels?: Record<string, string>; inc: number }[];
  gauges?: { name: string; help?: string; mode: string; value: number }[];
  histograms?: { name: string; help?: string; buckets: number[]; observations: number[] }[];
  summaries?: { name: string; help?: string; observations: number[] }[];
  wide?: { name: string; series: number };
}

/** A running writer process. */
export interface Writer {
  id: string;
  pid: number;
  child: ChildProcess;
  /** Kills it with the signal and waits until it is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts a real writer process and waits until its first flush reached Redis. */
export function startWriter(
  prefix: string,
  plan: WriterPlan,
  env: Record<string, string> = {},
): Promise<Writer> {
  const child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      REDIS_URL: testRedisUrl(),
      KEY_PREFIX: prefix,
      PLAN: JSON.stringify(plan),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk) => {
      stdout += String(chunk);
      const match = /^ready (.*)$/m.exec(stdout);
      if (!match) return;
      const { id, pid } = JSON.parse(match[1]) as { id: string; pid: number };
      resolve({
        id,
        pid,
        child,
        async kill(signal) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
    child.once('exit', (code) =>
      reject(new Error(`writer exited (${code}) before ready: ${stderr}`)),
    );
  });
}

/** Waits until a condition holds, polling every 25 ms. */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Reads a state that settles (what a real Prometheus shows after some scrapes) until it equals
 * `expected` or `timeoutMs` passes, and returns the last reading for the caller to assert exactly: one
 * slow scrape on a loaded machine does not decide the test, and a state that never settles fails it
 * with what was read.
 */
export async function settledReading<T>(
  read: () => Promise<T>,
  expected: T,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reading = await read();
    // Compared through JSON: parts of a reading can come from Node's own realm (fetch's JSON), whose
    // prototypes differ from the test's.
    const settled = isDeepStrictEqual(JSON.parse(JSON.stringify(reading)), expected);
    if (settled || Date.now() > deadline) return reading;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
