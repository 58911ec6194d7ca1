import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import {
  MetricsFlusher,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
} from '../../src/index.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';

type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;

/** Calls per command since the last CONFIG RESETSTAT, commands run inside scripts included. */
async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    calls[match[1]] = Number(match[2]);
  return calls;
}

describe('flush traffic and Redis trouble, on a private Redis', () => {
  let redis: PrivateRedis;
  let client: Redis;
  const cleanups: (() => void)[] = [];
  const keys = new PrefixKeys('traffic');

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    cleanups.forEach((cleanup) => cleanup());
    client.disconnect();
    await redis.stop();
  });

  it('a flush with nothing changed writes no series values, only the heartbeat and its write number', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'c', help: 'c', labelNames: ['k'], registers: [registry] });
    for (let i = 0; i < 50; i += 1) counter.inc({ k: String(i) });
    const identity = ProcessIdentity.create();
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(client, keys.prefix),
      identity,
      registry,
      intervalMs: 1000,
      gaugeModeOf: () => 'all',
    });
    await flusher.flush();
    const heartbeatBefore = Number(await client.zscore(keys.processes, identity.id));
    const totalsBefore = await client.hgetall(keys.totals);
    const countersBefore = await client.hgetall(keys.counters(identity.id));
    await client.config('RESETSTAT');

    const result = await flusher.flush();

    // Only the script call and what it ran (key types, the five markers read and four written, the
    // totals' stamp kept, the process info kept, the heartbeat); INFO itself is counted after its reply.
    expect(result).toMatchObject({ ok: true, sent: 0, removed: 0, calls: 1 });
    expect(await commandCalls(client)).toEqual({
      'config|resetstat': 1,
      evalsha: 1,
      time: 1,
      type: 9,
      hget: 5,
      hset: 4,
      hsetnx: 2,
      zadd: 1,
    });
    const seq = String(flusher.acknowledged()!.seq);
    expect(await client.hgetall(keys.totals)).toEqual({
      ...totalsBefore,
      [`#p:${identity.id}`]: seq,
    });
    expect(await client.hgetall(keys.counters(identity.id))).toEqual({
      ...countersBefore,
      '#seq': seq,
    });
    expect(Number(await client.zscore(keys.processes, identity.id))).toBeGreaterThanOrEqual(
      heartbeatBefore,
    );
  });

  it('keeps counting while Redis is down, never throws, and catches up when it is back', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'orders', help: 'o', registers: [registry] });
    const identity = ProcessIdentity.create();
    const outageClient = new Redis(redis.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => 50,
    });
    outageClient.on('error', () => {});
    cleanups.push(() => outageClient.disconnect());
    await waitUntilReady(outageClient);
    const warnings: string[] = [];
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(outageClient, keys.prefix),
      identity,
      registry,
      intervalMs: 1000,
      gaugeModeOf: () => 'all',
      logger: { warn: (m) => warnings.push(m), log: (m) => warnings.push(`log: ${m}`) },
    });
    counter.inc();
    expect((await flusher.flush()).ok).toBe(true);

    await redis.stop();
    counter.inc(); // the hot path is prom-client's, in memory: no Redis involved
    const failed = await flusher.flush();
    const failedAgain = await flusher.flush();

    expect(failed.ok).toBe(false);
    expect(failed.error).toBeInstanceOf(Error);
    expect(failedAgain.ok).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^Flushing metrics to Redis under prefix "traffic" failed; counting goes on in memory/,
    );

    await redis.start();
    await waitUntilReady(outageClient);
    const recovered = await flusher.flush();

    // The restarted server is empty: the flusher notices (the write is refused), starts a repair and
    // writes every series again.
    expect(recovered).toMatchObject({ ok: true, sent: 1, calls: 3 });
    expect(warnings.slice(1)).toEqual([
      `Redis under prefix "traffic" lost data of process ${identity.id}: Redis no longer holds this process in the totals (restarted empty, flushed, or the key was evicted or deleted); what only Redis held, the counts of processes that ended before, cannot come back. Repairing it exactly by writing its series again.`,
      'log: Flushing metrics to Redis under prefix "traffic" works again.',
    ]);
    expect(await client.hget(keys.totals, seriesField('orders', {}))).toBe('v 2');
    outageClient.disconnect();
  });
});

async function waitUntilReady(client: Redis): Promise<void> {
  const deadline = Date.now() + 5000;
  while (client.status !== 'ready') {
    if (Date.now() > deadline) throw new Error(`client still ${client.status}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
