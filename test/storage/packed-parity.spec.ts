import {
  MemoryMetricsStore,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
} from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';

// The write script (Lua) and the embedded store (TypeScript) must read the same stored texts as the
// same numbers: a total one of them took for malformed and the other added to would make them differ
// for good. A total written by something else under the prefix is the case to hold.
describe('the write script and the embedded store read a stored total alike', () => {
  const testRedis = useTestRedis();
  const field = seriesField('lookup_seconds', {});

  /** The total each store holds after one process writes `c 2 s 1 0.5 1 +Inf 2` over `stored`. */
  async function totalsAfterWrite(stored: string): Promise<[string | null, string | undefined]> {
    const { client } = testRedis;
    const prefix = testRedis.prefix('packed-parity');
    const keys = new PrefixKeys(prefix);
    const redis = new RedisMetricsStore(client, prefix);
    const memory = new MemoryMetricsStore();
    const memoryTotals = (memory as unknown as { totals: Map<string, string> }).totals;
    await client.hset(keys.totals, field, stored);
    memoryTotals.set(field, stored);
    const identity = ProcessIdentity.create({ hostname: 'h', pid: 1 });
    const batch = () => ({
      expectedSeq: 0,
      seq: 1,
      counters: [[field, 'c 2 s 1 0.5 1 +Inf 2']] as [string, string][],
    });
    await redis.write(identity, batch());
    await memory.write(identity, batch());
    return [await client.hget(keys.totals, field), memoryTotals.get(field)];
  }

  it.each([
    ['a well-formed total', 'c 1 s 0.25 0.5 1 +Inf 1', 'c 3 s 1.25 0.5 2 +Inf 3'],
    ['exponents and a leading point', 'c 1e0 s .25 0.5 1 +Inf 1', 'c 3 s 1.25 0.5 2 +Inf 3'],
    ['a double space', 'c  1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a trailing space', 'c 1 s 0.25 0.5 1 +Inf 1 ', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a tab', 'c\t1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a hexadecimal number', 'c 0x1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a binary number', 'c 0b1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['an infinity spelled Inf', 'c 1 s Inf 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
  ])('%s: both stores end with the same total', async (_, stored, expected) => {
    const [redis, memory] = await totalsAfterWrite(stored);

    expect(redis).toBe(expected);
    expect(memory).toBe(expected);
  });
});
