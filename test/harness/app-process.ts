import { spawn } from 'node:child_process';

const fixture = new URL('../fixtures/lifecycle-app.mjs', import.meta.url).pathname;

/** A Nest app with RedisMetricsModule in a process of its own (test/fixtures/lifecycle-app.mjs). */
export interface AppProcess {
  /** What it printed so far (Nest's log included). */
  output(): string;
  /** Waits until it prints a line that matches (ended, or not within 10 s: rejects). */
  printed(pattern: RegExp): Promise<RegExpExecArray>;
  /**
   * Closes the app with app.close() and waits until the process has ended by itself: how long
   * app.close() took, and how long the process lived after it (a process still alive 10 s later is
   * killed).
   */
  close(): Promise<{ closeMs: number; exitedAfterMs: number }>;
  /** Sends SIGTERM (Nest's shutdown hooks close the app) and waits until it ended: how long it took. */
  terminate(): Promise<number>;
}

/** Starts the app with these environment variables and waits until it listens. */
export async function startAppProcess(env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH, NO_COLOR: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const lineWaiters: (() => void)[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const waiter of lineWaiters) waiter();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number>((resolve) =>
    child.once('exit', () => resolve(performance.now())),
  );
  const printed = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the app did not print ${pattern} within 10 s: ${output}`)),
        10_000,
      );
      const check = () => {
        const match = pattern.exec(output);
        if (!match) return;
        clearTimeout(timer);
        resolve(match);
      };
      lineWaiters.push(check);
      check();
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the app exited before printing ${pattern}: ${output}`));
      });
    });
  await printed(/^listening \d+$/m);
  return {
    output: () => output,
    printed,
    async close() {
      child.stdin.write('close\n');
      const [, closeMs] = await printed(/^closed after (\d+) ms$/m);
      const closedAt = performance.now();
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const exitedAt = await exited;
      clearTimeout(killer);
      return { closeMs: Number(closeMs), exitedAfterMs: Math.round(exitedAt - closedAt) };
    },
    async terminate() {
      const sent = performance.now();
      child.kill('SIGTERM');
      return Math.round((await exited) - sent);
    },
  };
}
