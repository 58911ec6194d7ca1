import { spawnSync } from 'node:child_process';

import type { Redis } from 'ioredis';

/** A redis-server of the benchmark's own, so its statistics count only the benchmark's commands. */
export interface PrivateRedis {
  url: string;
  version: string;
  stop(): Promise<void>;
}

interface Harness {
  hasRedisServerBinary(): boolean;
  startRedisServerBinary(): Promise<{ url: string; stop(): Promise<void> }>;
}

/**
 * Starts `redis-server` on a free port with persistence off, the way the test harness does (its
 * module is plain JavaScript outside this compilation, so it is loaded by URL), or says how to get one.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const harness = (await import(
    new URL('../../../test/harness/redis-server.mjs', import.meta.url).href
  )) as Harness;
  if (!harness.hasRedisServerBinary()) {
    throw new Error(
      'The benchmarks need the redis-server binary (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis).',
    );
  }
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const server = await harness.startRedisServerBinary();
  return {
    url: server.url,
    version: /v=(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown',
    stop: () => server.stop(),
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
