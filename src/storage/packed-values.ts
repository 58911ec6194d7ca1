/**
 * The numbers of one counter-like series, packed into one hash value so that they are always written
 * and read together: `"<slot> <number> <slot> <number> ..."`.
 *
 * - a counter: `v <value>`;
 * - a histogram: `c <count> s <sum> <le> <cumulative count> ...` (every bucket, `+Inf` included);
 * - a summary: `c <count> s <sum>`.
 *
 * Numbers are written as JavaScript prints them (the shortest text that reads back as the same double)
 * or `+Inf`, `-Inf`, `NaN`; the write script writes its sums with `%.17g`, which also reads back
 * exactly. The same arithmetic runs in Lua (see `lua-scripts.ts`) and here, for the embedded store.
 */
export type PackedSlots = Map<string, number>;

/** A decimal number, as JavaScript and Lua's `%.17g` write them. */
const DECIMAL = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
/** Control characters: the packed text separates its tokens with single spaces only. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
const CONTROL = /[\x00-\x1f\x7f]/;

/** A number as stored: exact, with Prometheus' names for the infinities and NaN. */
export function encodeNumber(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** Reads a number written by {@link encodeNumber} or by Lua's `%.17g`; `undefined` when it is not one. */
export function decodeNumber(text: string): number | undefined {
  if (text === '+Inf' || text === 'Infinity' || text === 'inf') return Infinity;
  if (text === '-Inf' || text === '-Infinity' || text === '-inf') return -Infinity;
  if (text === 'NaN' || text === 'nan') return NaN;
  // Decimal only (no hex, binary or padding): the write script reads exactly the same texts.
  return DECIMAL.test(text) ? Number(text) : undefined;
}

/** Packs slots in their order. */
export function encodePacked(slots: Iterable<[string, number]>): string {
  let text = '';
  for (const [slot, value] of slots) {
    text += text === '' ? `${slot} ${encodeNumber(value)}` : ` ${slot} ${encodeNumber(value)}`;
  }
  return text;
}

/** Unpacks a stored value; `undefined` when it is not well formed (a slot twice included). */
export function decodePacked(text: string): PackedSlots | undefined {
  if (CONTROL.test(text)) return undefined;
  // Most series are counters: one slot, no split.
  if (text.startsWith('v ') && text.indexOf(' ', 2) === -1) {
    const value = decodeNumber(text.slice(2));
    return value === undefined ? undefined : new Map([['v', value]]);
  }
  const tokens = text.split(' ');
  if (tokens.length === 0 || tokens.length % 2 !== 0) return undefined;
  const slots: PackedSlots = new Map();
  for (let i = 0; i < tokens.length; i += 2) {
    const value = decodeNumber(tokens[i + 1]);
    // A slot given twice holds two numbers, neither of which is the value: not well formed either.
    if (tokens[i] === '' || value === undefined || slots.has(tokens[i])) return undefined;
    slots.set(tokens[i], value);
  }
  return slots;
}

/**
 * What a process's new absolute values add to the totals, given what it wrote before (`undefined`:
 * nothing). A count that went down means the series was reset (`reset()`, a restarted counter): its new
 * value is counted from zero, as Prometheus reads a counter reset, so a total never goes down. Any
 * count: a histogram reset and observed as often again has the same count, but a bucket lower.
 */
export function packedDelta(next: PackedSlots, previous: PackedSlots | undefined): PackedSlots {
  if (previous === undefined || wasReset(next, previous)) return next;
  const delta: PackedSlots = new Map();
  for (const [slot, value] of next) delta.set(slot, value - (previous.get(slot) ?? 0));
  return delta;
}

/** Whether a value, count or bucket went down (a sum may: observations can be negative). */
function wasReset(next: PackedSlots, previous: PackedSlots): boolean {
  for (const [slot, now] of next) {
    const before = previous.get(slot);
    if (slot !== 's' && before !== undefined && now < before) return true;
  }
  return false;
}

/** Whether a slot is a histogram bucket's (its bound): not a counter's value, a count or a sum. */
export const isBucketSlot = (slot: string): boolean => slot !== 'v' && slot !== 'c' && slot !== 's';

/**
 * Adds a delta into a total (slot by slot; slots new to the total are appended). A NaN or infinite
 * delta is left out: it would poison the shared total for good (prom-client lets `inc(NaN)` through).
 *
 * A histogram's buckets are summed only at the bounds every writer has: a writer whose layout differs
 * (a deploy that changed the buckets) drops from the total the bounds it lacks, and adds nothing at
 * bounds the total lacks. Summed at a bound only some writers have, a cumulative count would be wrong
 * (it would miss the others' observations below it); at the shared bounds it stays exact.
 */
export function addPacked(total: PackedSlots | undefined, delta: PackedSlots): PackedSlots {
  const sum: PackedSlots = new Map(total ?? []);
  if (total !== undefined) {
    for (const slot of total.keys()) if (isBucketSlot(slot) && !delta.has(slot)) sum.delete(slot);
  }
  for (const [slot, value] of delta) {
    if (total !== undefined && isBucketSlot(slot) && !total.has(slot)) continue;
    if (Number.isFinite(value)) sum.set(slot, (sum.get(slot) ?? 0) + value);
  }
  return sum;
}
