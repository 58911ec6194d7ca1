import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { PrefixKeys, RedisMetricsStore, RedisStorageDict } from '../../src/index.js';
import { startAofRedis } from '../harness/aof-redis.js';
import { faultAfterFirstScan } from '../harness/scan-fault.js';
import { storeFlusher } from '../harness/test-flusher.js';

// deleteCounts and RedisStorageDict's iteration walk a hash in several HSCAN calls too. A cursor
// carried to another server process (here a restart from AOF, which loses nothing) skips part of the
// hash there: a deletion would leave series behind and return too small a count, a listing would miss
// series. Both must see the whole hash, each field once.

const SERIES = 3000;

jest.setTimeout(60_000);

describe('deletions and listings whose HSCAN calls span a restart of Redis see every field once', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function restartableRedis(label: string) {
    const server = await startAofRedis(label, cleanups);
    const options = { port: server.port, host: '127.0.0.1', retryStrategy: () => 100 };
    const client = new Redis({ ...options, maxRetriesPerRequest: 5, commandTimeout: 5000 });
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    const restart = async () => {
      await server.kill();
      await server.restart();
    };
    return { client, restart };
  }

  it('deleteSeries deletes every series of the metric and counts each once', async () => {
    const { client, restart } = await restartableRedis('delete-restart');
    const prefix = 'delete-restart';
    const registry = new Registry();
    const wide = new Counter({
      name: 'wide_total',
      help: 'Many series',
      labelNames: ['i'],
      registers: [registry],
    });
    for (let i = 0; i < SERIES; i += 1) wide.inc({ i: String(i) }, i + 1);
    const kept = new Counter({ name: 'kept_total', help: 'Stays', registers: [registry] });
    kept.inc(5);
    const store = new RedisMetricsStore(client, prefix);
    const flusher = storeFlusher(store, registry);
    expect((await flusher.flush())?.ok).toBe(true);
    await flusher.stop();
    const totals = new PrefixKeys(prefix).totals;
    const fired = faultAfterFirstScan(client, totals, restart);

    const deleted = await store.deleteSeries('wide_total');

    const left = Object.keys(await client.hgetall(totals)).filter(
      (field) => !field.startsWith('#'),
    );
    expect({ deleted, left }).toEqual({ deleted: SERIES, left: ['["kept_total",{}]'] });
    expect(fired.fired()).toBe(true);
  });

  it("RedisStorageDict's iteration yields every series once", async () => {
    const { client, restart } = await restartableRedis('dict-restart');
    const dict = new RedisStorageDict(client, { keyPrefix: 'dict-restart' });
    await dict.update(Array.from({ length: SERIES }, (_, i) => [`s${i}`, i] as const));
    const fired = faultAfterFirstScan(
      client,
      new PrefixKeys('dict-restart').gauges(dict.identity.id),
      restart,
    );

    const keys: string[] = [];
    for await (const key of dict) keys.push(key);

    const expected = Array.from({ length: SERIES }, (_, i) => `s${i}`);
    expect(keys.sort()).toEqual(expected.sort());
    expect(fired.fired()).toBe(true);
  });
});
