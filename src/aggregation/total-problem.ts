import type { MetricMeta } from '../storage/keys.js';
import { decodeNumber, isBucketSlot, type PackedSlots } from '../storage/packed-values.js';

/**
 * What keeps a total from being served as a series of its metric's type, or `undefined` when it can
 * be: its numbers must be the ones a writer of that type makes. The write script only ever adds
 * differences of what prom-client counted, so a total that breaks one of these rules was written by
 * something else (or by a version where the metric had another type); served, its numbers would be
 * wrong rather than missing. `name` is the metric's, for the way out a message names.
 */
export function totalProblem(
  type: MetricMeta['type'],
  slots: PackedSlots,
  name: string,
): string | undefined {
  for (const [slot, value] of slots) {
    if (!Number.isFinite(value)) return `${slot} is ${value}, not a finite number`;
  }
  if (!holdsNumbersOf(type, slots)) {
    // Counts of another type stay in the totals for good: say how they go, as for a gauge's.
    return `the stored value is not a ${type}'s (${[...slots.keys()].join(' ')}), left out (a version where the metric had another type wrote it; deleteCounts("${name}") deletes it)`;
  }
  // Counts only ever grow from 0 (a sum may be below 0: observations can be negative).
  for (const [slot, value] of slots) {
    if (slot !== 's' && value < 0) return `${slot} is ${value}, a count below 0`;
  }
  return type === 'histogram' ? bucketsProblem(slots) : undefined;
}

/**
 * Whether a total holds the numbers of its metric's type (see packed-values.ts), and no others: a
 * counter `v`; a summary `c` and `s`; a histogram `c`, `s` and its buckets up to `+Inf`. Read as this
 * type, a total of another shape would have its missing numbers served as 0.
 */
function holdsNumbersOf(type: MetricMeta['type'], slots: PackedSlots): boolean {
  if (type === 'counter') return slots.size === 1 && slots.has('v');
  if (!slots.has('c') || !slots.has('s') || slots.has('v')) return false;
  return type === 'summary' ? slots.size === 2 : slots.has('+Inf');
}

/**
 * A histogram's buckets must be bounds as the store writes numbers, each once, and cumulative: each
 * count at least the one below it, the `+Inf` bucket's the count of every observation (`c`).
 * Prometheus computes quantiles from these counts: served out of order, they would be wrong.
 */
function bucketsProblem(slots: PackedSlots): string | undefined {
  const bounds: { le: string; bound: number; count: number }[] = [];
  for (const [le, count] of slots) {
    if (!isBucketSlot(le)) continue;
    const bound = decodeNumber(le);
    if (bound === undefined || Number.isNaN(bound)) return `bucket le="${le}" is not a number`;
    bounds.push({ le, bound, count });
  }
  bounds.sort((a, b) => a.bound - b.bound);
  for (let i = 1; i < bounds.length; i += 1) {
    const [below, above] = [bounds[i - 1], bounds[i]];
    if (below.bound === above.bound) {
      return `buckets le="${below.le}" and le="${above.le}" are the same bound`;
    }
    if (above.count < below.count) {
      return `buckets are not cumulative: le="${above.le}" holds ${above.count}, le="${below.le}" below it ${below.count}`;
    }
  }
  const all = slots.get('+Inf')!;
  const count = slots.get('c')!;
  if (all !== count) return `bucket le="+Inf" holds ${all} but the count is ${count}`;
  return undefined;
}
