import type { Redis } from 'ioredis';

import { PrefixKeys, ProcessIdentity, RedisStorageDict, seriesField } from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  keysUnderPrefix,
  uniquePrefix,
} from '../harness/test-redis.js';

describe('RedisStorageDict against a real Redis', () => {
  let client: Redis;
  const prefix = uniquePrefix('dict:with:colons');
  const otherPrefix = uniquePrefix('dict-other');
  const unprefixedKey = `${uniquePrefix('plain')}-no-hash-tag`;

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await deletePrefix(client, otherPrefix);
    await client.del(unprefixedKey);
    await client.quit();
  });

  const field = seriesField('jobs', { queue: 'mail' });

  it('writes and reads a value with a Redis server timestamp', async () => {
    const dict = new RedisStorageDict(client, { keyPrefix: prefix });
    const [seconds, micros] = await client.time();
    const before = Number(seconds) * 1000 + Number(micros) / 1000;

    await dict.writeValue(field, 41.5);

    const stored = await dict.readValue(field);
    expect(stored.value).toBe(41.5);
    expect(stored.timestamp).toBeGreaterThanOrEqual(Math.floor(before));
    expect(stored.timestamp).toBeLessThan(before + 5000);
    expect(await dict.readValue('never written')).toEqual({ value: 0, timestamp: 0 });
    await dict.clear();
  });

  it('behaves as a dictionary: get, set, has, delete, size, keys, values, entries, iteration, update', async () => {
    const dict = new RedisStorageDict(client, { keyPrefix: prefix });
    await dict.set('a', { value: 1, timestamp: 1000 });
    await dict.set('b', { value: -2.25, timestamp: 2000 });
    await dict.update({
      c: { value: 3, timestamp: 3000 },
      d: { value: Infinity, timestamp: 3000 },
    });

    expect(await dict.get('a')).toEqual({ value: 1, timestamp: 1000 });
    expect(await dict.get('missing')).toBeUndefined();
    expect(await dict.has('b')).toBe(true);
    expect(await dict.has('missing')).toBe(false);
    expect(await dict.size()).toBe(4);
    expect((await dict.keys()).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect((await dict.values()).map((v) => v.value).sort()).toEqual([-2.25, 1, 3, Infinity]);
    expect(new Map(await dict.entries()).get('d')).toEqual({ value: Infinity, timestamp: 3000 });

    const iterated: string[] = [];
    for await (const key of dict) iterated.push(key);
    expect(iterated.sort()).toEqual(['a', 'b', 'c', 'd']);

    expect(await dict.delete('a')).toBe(true);
    expect(await dict.delete('a')).toBe(false);
    expect(await dict.size()).toBe(3);
    await dict.clear();
  });

  it('iterates over more series than one HSCAN batch', async () => {
    const dict = new RedisStorageDict(client, { keyPrefix: prefix });
    const many = Array.from({ length: 1200 }, (_, i) => [`s${i}`, i] as const);
    await dict.update(many);
    let count = 0;
    let sum = 0;
    for await (const key of dict) {
      count += 1;
      sum += Number(key.slice(1));
    }
    expect(count).toBe(1200);
    expect(sum).toBe((1199 * 1200) / 2);
    await dict.clear();
  });

  it('registers its process in the index, so a scrape can find every series', async () => {
    const identity = ProcessIdentity.create({ hostname: 'web-1', pid: 7 });
    const dict = new RedisStorageDict(client, { keyPrefix: prefix, identity });
    await dict.writeValue(field, 1);
    const keys = new PrefixKeys(prefix);
    expect(await client.zscore(keys.processes, identity.id)).not.toBeNull();
    expect(JSON.parse((await client.hget(keys.processInfo, identity.id))!)).toEqual({
      pid: 7,
      hostname: 'web-1',
      startedAt: identity.startedAt,
    });
    await dict.clear();
    expect(await client.zscore(keys.processes, identity.id)).toBeNull();
  });

  it('clear() removes its own series and leaves other processes, other prefixes and unprefixed keys alone', async () => {
    const mine = new RedisStorageDict(client, { keyPrefix: prefix });
    const neighbour = new RedisStorageDict(client, { keyPrefix: prefix });
    const otherPrefixDict = new RedisStorageDict(client, { keyPrefix: otherPrefix });
    await mine.writeValue(field, 1);
    await neighbour.writeValue(field, 2);
    await otherPrefixDict.writeValue(field, 3);
    await client.set(unprefixedKey, 'untouched');
    const otherPrefixKeys = await keysUnderPrefix(client, otherPrefix);

    await mine.clear();

    expect(await mine.size()).toBe(0);
    expect(await mine.readValue(field)).toEqual({ value: 0, timestamp: 0 });
    expect((await neighbour.readValue(field)).value).toBe(2);
    expect((await otherPrefixDict.readValue(field)).value).toBe(3);
    expect(await keysUnderPrefix(client, otherPrefix)).toEqual(otherPrefixKeys);
    expect(await client.get(unprefixedKey)).toBe('untouched');
    await neighbour.clear();
    await otherPrefixDict.clear();
  });

  it('cleanupDeadWorker ends a dead process: its values and state go, the totals keep its counts', async () => {
    const keys = new PrefixKeys(prefix);
    const requests = seriesField('requests', { code: '200' });
    await client.hset(keys.totals, requests, 'v 10');
    const dead = new RedisStorageDict(client, { keyPrefix: prefix });
    const reaper = new RedisStorageDict(client, { keyPrefix: prefix });
    await dead.update([[seriesField('temperature', {}), 21]]);
    await client.hset(keys.counters(dead.identity.id), requests, 'v 10');

    expect(await reaper.cleanupDeadWorker(dead.identity.id)).toBe(true);
    expect(await reaper.cleanupDeadWorker(dead.identity.id)).toBe(false);

    expect(await client.hget(keys.totals, requests)).toBe('v 10');
    expect(await client.exists(keys.gauges(dead.identity.id))).toBe(0);
    expect(await client.exists(keys.counters(dead.identity.id))).toBe(0);
    expect(await client.zscore(keys.processes, dead.identity.id)).toBeNull();
    expect(await client.hget(keys.processInfo, dead.identity.id)).toBeNull();
  });

  it('several processes ending the same dead one at once end it exactly once', async () => {
    const dead = new RedisStorageDict(client, { keyPrefix: prefix });
    await dead.writeValue(seriesField('reaped', {}), 6);
    const reapers = [1, 2, 3].map(() => new RedisStorageDict(client, { keyPrefix: prefix }));

    const ended = await Promise.all(reapers.map((r) => r.cleanupDeadWorker(dead.identity.id)));

    expect(ended.sort()).toEqual([false, false, true]);
  });
});
