import {
  MemoryMetricsStore,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
} from '../../src/index.js';
import { PRELUDE } from '../../src/storage/lua-scripts.js';
import { seededRandom } from '../harness/seeded-random.js';
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
    ['a slot given twice', 'c 1 s 0.25 c 7 0.5 1 +Inf 1', 'c 2 s 1 0.5 1 +Inf 2'],
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

// The write script reads a packed text the short way (one match per slot and its number, tonumber
// alone) and leaves any text that way cannot read exactly to the strict reader: both must give the same
// answer for every text, well formed or not.
describe("the write script's short reading of a packed text", () => {
  const testRedis = useTestRedis();

  /** Each text as both readers give it: `slot=number ...` (numbers as %.17g, NaN as NaN) or `nil`. */
  const BOTH_READINGS = `${PRELUDE}
local function shown(names, values)
  if not names then return 'nil' end
  local parts = {}
  for i = 1, #names do
    local n = values[names[i]]
    parts[i] = names[i] .. '=' .. (n ~= n and 'NaN' or string.format('%.17g', n))
  end
  return table.concat(parts, ' ')
end
local out = {}
for i = 1, #ARGV do
  out[#out + 1] = shown(parsePacked(ARGV[i]))
  out[#out + 1] = shown(parsePackedStrictly(ARGV[i]))
end
return out`;

  const SLOTS = ['v', 'c', 's', '0.5', '+Inf', '1e-7', 'x', 'X1', 'Inf', 'ü'];
  const NUMBERS = [
    '1',
    '-2.5',
    '.25',
    '5.',
    '+.5',
    '1e5',
    '1E+05',
    '-0',
    '1e999',
    '-1e999',
    '9007199254740993',
    '+Inf',
    '-Inf',
    'Infinity',
    '-Infinity',
    'inf',
    '-inf',
    'NaN',
    'nan',
    '-nan',
    'Inf',
    '+inf',
    'INF',
    'infinity',
    '0x1',
    '0X1F',
    '0x1p3',
    '1e',
    'e5',
    '.',
    '-',
    '1,5',
    '0b1',
    '1_0',
    '١',
    '1\u0000zz',
    '2\u007f',
    'nan(1)',
  ];
  const SEPARATORS = [' ', ' ', ' ', ' ', '  ', '\t', '\n', '\u0001', ''];

  /** A text of 1 to 4 slots, mostly well formed, from `random`. */
  function randomText(random: () => number): string {
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
    if (random() < 0.02) return pick(['', ' ', '  ', 'v', 'v ']);
    const well = random() < 0.5;
    let text = random() < 0.05 ? ' ' : '';
    const pairs = 1 + Math.floor(random() * 4);
    for (let i = 0; i < pairs; i += 1) {
      if (i > 0) text += well ? ' ' : pick(SEPARATORS);
      text += `${pick(SLOTS)}${well ? ' ' : pick(SEPARATORS)}${well ? pick(NUMBERS.slice(0, 20)) : pick(NUMBERS)}`;
    }
    if (random() < 0.05) text += ' ';
    if (random() < 0.05) text += ` ${pick(SLOTS)}`;
    return text;
  }

  it('gives what the strict reading gives, for 4,000 texts', async () => {
    const random = seededRandom(20261127);
    const texts = Array.from({ length: 4000 }, () => randomText(random));

    const readings = (await testRedis.client.eval(BOTH_READINGS, 0, ...texts)) as string[];

    const differing = texts
      .map((text, i) => ({ text, short: readings[2 * i], strict: readings[2 * i + 1] }))
      .filter(({ short, strict }) => short !== strict);
    expect(differing).toEqual([]);
    // Both kinds are there: texts read as numbers, and texts refused.
    const read = texts.filter((_, i) => readings[2 * i + 1] !== 'nil').length;
    expect(read).toBeGreaterThan(1000);
    expect(texts.length - read).toBeGreaterThan(1000);
  });

  it('writes an integer with the digits %.17g gives it, and every other number with %.17g', async () => {
    const numbers = [
      '0',
      '-0',
      '1',
      '-1',
      '7',
      '20020',
      '-123456789',
      '1e15',
      '9007199254740991',
      '-9007199254740991',
      '9007199254740992',
      '9007199254740993',
      '-9007199254740992',
      '1e300',
      '0.5',
      '-2.5',
      '1701.7001',
      '1e-300',
      '5e-324',
      '123456789012345.6',
    ];
    const script = `${PRELUDE}
local out = {}
for i = 1, #ARGV do out[i] = fmt(tonumber(ARGV[i])) end
return out`;

    const written = (await testRedis.client.eval(script, 0, ...numbers)) as string[];

    expect(written).toEqual([
      '0',
      '-0',
      '1',
      '-1',
      '7',
      '20020',
      '-123456789',
      '1000000000000000',
      '9007199254740991',
      '-9007199254740991',
      '9007199254740992',
      '9007199254740992',
      '-9007199254740992',
      '1.0000000000000001e+300',
      '0.5',
      '-2.5',
      '1701.7001',
      '1e-300',
      '4.9406564584124654e-324',
      '123456789012345.59',
    ]);
  });
});
