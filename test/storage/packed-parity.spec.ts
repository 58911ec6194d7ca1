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
    ['a number too large for a double', 'c 1 s 1e999 0.5 1 +Inf 1', 'c 3 s +Inf 0.5 2 +Inf 3'],
    ['a sum spelled nan', 'c 1 s nan 0.5 1 +Inf 1', 'c 3 s NaN 0.5 2 +Inf 3'],
    ['a NaN with a sign', 'c 1 s -nan 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a hexadecimal number in capitals', 'c 0X1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a zero byte inside a number', 'c 1 s 0.25 0.5 1\u0000zz +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a newline after a number', 'c 1 s 0.25\n 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a control character in a slot', 'c 1 s 0.25 0.5\u007f 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a leading space', ' c 1 s 0.25 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
    ['a slot without its number', 'c 1 s 0.25 0.5 1 +Inf', 'c 2 s 1 0.5 1 +Inf 2'],
    ['nothing at all', '', 'c 2 s 1 0.5 1 +Inf 2'],
  ])('%s: both stores end with the same total', async (_, stored, expected) => {
    const [redis, memory] = await totalsAfterWrite(stored);

    expect(redis).toBe(expected);
    expect(memory).toBe(expected);
  });

  /**
   * The total each store holds of a counter after one process writes `first`, then `second`, over
   * `stored` (null: no total yet). The write script adds counters without splitting their texts when
   * all three are `v <number>`, and the general way otherwise: both must add as the embedded store does.
   */
  async function counterTotalAfterWrites(
    stored: string | null,
    first: string,
    second: string,
  ): Promise<[string | null, string | undefined]> {
    const { client } = testRedis;
    const prefix = testRedis.prefix('counter-parity');
    const keys = new PrefixKeys(prefix);
    const counterField = seriesField('jobs_total', {});
    const redis = new RedisMetricsStore(client, prefix);
    const memory = new MemoryMetricsStore();
    const memoryTotals = (memory as unknown as { totals: Map<string, string> }).totals;
    if (stored !== null) {
      await client.hset(keys.totals, counterField, stored);
      memoryTotals.set(counterField, stored);
    }
    const identity = ProcessIdentity.create({ hostname: 'h', pid: 1 });
    for (const [seq, packed] of [first, second].entries()) {
      const batch = { expectedSeq: seq, seq: seq + 1, counters: [[counterField, packed]] };
      for (const store of [redis, memory]) {
        const reply = await store.write(identity, batch as Parameters<typeof store.write>[1]);
        expect(reply.status).toBe('applied');
      }
    }
    return [await client.hget(keys.totals, counterField), memoryTotals.get(counterField)];
  }

  it.each([
    ['a counter total', 'v 10', 'v 3', 'v 5', 'v 15'],
    ['no total yet', null, 'v 3', 'v 5', 'v 5'],
    ['a reset (the value went down)', 'v 10', 'v 3', 'v 2', 'v 15'],
    ['a value written again', null, 'v 3', 'v 3', 'v 3'],
    ['zero, and minus zero', null, 'v -0', 'v 0', 'v 0'],
    ['fractions', 'v 0.25', 'v 0.5', 'v 1.5', 'v 1.75'],
    ['a NaN value, left out', 'v 10', 'v 3', 'v NaN', 'v 13'],
    ['an infinite total', 'v +Inf', 'v 3', 'v 5', 'v +Inf'],
    ['a total with a double space', 'v  1', 'v 3', 'v 5', 'v 5'],
    ['a total with a trailing space', 'v 1 ', 'v 3', 'v 5', 'v 5'],
    ['a hexadecimal total', 'v 0x1', 'v 3', 'v 5', 'v 5'],
    ['a total with a tab', 'v\t1', 'v 3', 'v 5', 'v 5'],
    ['an infinity spelled Inf', 'v Inf', 'v 3', 'v 5', 'v 5'],
    ['a histogram total under the field', 'c 1 s 2 0.5 1 +Inf 1', 'v 3', 'v 5', 'c 1 s 2 v 5'],
    ['a histogram written before', 'v 10', 'c 1 s 2 +Inf 1', 'v 5', 'v 15 c 1 s 2'],
    // reset() and observed as often again: the count is the same, a bucket went down.
    [
      'a histogram reset with its count unchanged',
      null,
      'c 2 s 1 0.5 2 1 2 +Inf 2',
      'c 2 s 10 0.5 0 1 0 +Inf 2',
      'c 4 s 11 0.5 2 1 2 +Inf 4',
    ],
    // A negative observation lowers the sum alone: no reset.
    ['a histogram sum that went down', null, 'c 1 s 5 +Inf 1', 'c 2 s 3 +Inf 2', 'c 2 s 3 +Inf 2'],
  ])(
    '%s: both stores end with the same counter total',
    async (_, stored, first, second, expected) => {
      const [redis, memory] = await counterTotalAfterWrites(stored, first, second);

      expect(redis).toBe(expected);
      expect(memory).toBe(expected);
    },
  );
});
