import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';

import { freePort } from './redis-server.mjs';
import { waitFor } from './writer-processes.js';

const main = new URL('../../sample/dist/main.js', import.meta.url).pathname;

/**
 * How long a request may go unanswered. node:cluster's round-robin primary can hand a new connection
 * to a worker in the instant it is SIGKILLed; that connection is then never served nor closed (seen in
 * CI: the primary held it, unread, for minutes). A client gives up on it (and may try again).
 */
export const REQUEST_TIMEOUT_MS = 3000;

/**
 * One request to a sample on a connection of its own, so node:cluster hands it to the next worker in
 * turn; rejected after {@link REQUEST_TIMEOUT_MS} without an answer.
 */
export function requestOnce(
  method: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += String(chunk)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no answer to ${method} ${url} within ${REQUEST_TIMEOUT_MS} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/** The sample as `npm start` runs it: a node:cluster primary and its workers, real processes. */
export interface SampleProcess {
  url: string;
  port: number;
  /** Pids of the workers that said they serve, in the order they did. */
  workerPids(): number[];
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** A graceful stop (SIGTERM to the primary); the whole group is killed if it takes over 10 s. */
  stop(): Promise<void>;
}

/** Every sample started, so a spec's afterAll can stop one whose test timed out before its `finally`. */
export const startedSamples: SampleProcess[] = [];

/**
 * Starts the built sample (`npm run build:sample`) with `env` on top of this process's environment
 * less every Redis variable, and waits until `workers` workers serve (`WORKERS` in `env` decides how
 * many are started; the sample's default is 2).
 */
export async function startSample(
  env: Record<string, string>,
  workers = Number(env.WORKERS ?? 2),
): Promise<SampleProcess> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(REDIS_|PROMETHEUS_REDIS_URL$|METRICS_AUTH_)/.test(name),
    ),
  );
  const child: ChildProcess = spawn(process.execPath, [main], {
    env: { ...inherited, PORT: String(port), NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so a stuck run can be killed whole
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += String(chunk)));
  child.stderr!.on('data', (chunk) => (output += String(chunk)));
  const workerPids = () => [...output.matchAll(/^Worker (\d+) serving/gm)].map((m) => Number(m[1]));
  const sample: SampleProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    workerPids,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  startedSamples.push(sample);
  let ended = false;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => {
      ended = true;
      reject(new Error(`the sample exited (${code}) before serving:\n${output}`));
    }),
  );
  // The wait ends with the sample too: it lost the race, but its 25 ms polling would go on for the
  // rest of its 30 s and keep the Jest worker alive past the spec ("failed to exit gracefully").
  await Promise.race([waitFor(() => ended || workerPids().length >= workers, 30_000), exited]);
  return sample;
}
