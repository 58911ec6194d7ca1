import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

import { Redis } from 'ioredis';

/** A redis-server of the benchmark's own, so its statistics count only the benchmark's commands. */
export interface PrivateRedis {
  url: string;
  version: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Starts `redis-server` on a free port with persistence off, or says how to get one. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'The benchmarks need the redis-server binary (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).',
    );
  }
  const version = /v=(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown';
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => undefined); // refused until the server listens: retried below
  for (let tries = 0; ; tries += 1) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (error) {
      if (tries > 100) throw error;
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  client.disconnect();
  return {
    url,
    version,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** Calls per command since the last `CONFIG RESETSTAT`, without the benchmark's own INFO/CONFIG. */
export async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const text = await client.info('commandstats');
  const calls = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    const name = match[1];
    if (name === 'info' || name.startsWith('config')) continue;
    calls.set(name, Number(match[2]));
  }
  return calls;
}

/** Bytes Redis uses for data, as `INFO memory` reports it. */
export async function usedMemory(client: Redis): Promise<number> {
  const text = await client.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(text)?.[1] ?? NaN);
}
