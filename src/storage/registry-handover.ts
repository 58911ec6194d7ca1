import type { Registry, RegistryContentType } from 'prom-client';

import type { LeftBehind } from './counter-ledger.js';
import { parseSeriesField } from './keys.js';
import type { WriteHistory } from './repair-plan.js';

/**
 * What a manager that stopped flushing a registry had delivered to a store, kept for the next manager
 * of this process that flushes the same registry to the same place.
 *
 * An app closed and started again in one process (an app per test, an in-process restart) keeps its
 * registry and so its counts: a counter at 1 goes on to 2. The new manager writes under a new process
 * id, whose previous values the store does not know, so without this it would count the 1 a second
 * time (totals 3 for a counter at 2). With it, the new flusher first records these values as its
 * previous ones, counting nothing, and counts only what came since.
 *
 * A shutdown that gave up on a write's reply (Redis stalled) does not know whether the store holds
 * that write, and Redis may apply it after the app closed: so the writes are handed over, the
 * acknowledged one and those unanswered, each with its values, and the next flusher takes those of
 * the write the store holds.
 */
export interface DeliveredCounts {
  /** The process (to the store) that delivered them: the next one asks which write of it the store holds. */
  processId: string;
  /**
   * Its acknowledged write and those whose reply never came, with what the totals hold of its
   * counter-like series as of each (field -> packed absolute value).
   */
  writes: WriteHistory;
  /**
   * What it had taken over and not yet written on (none of its writes acknowledged): what the totals
   * hold of the registry when they hold nothing of `processId`.
   */
  before?: DeliveredCounts;
  /**
   * The fields its series left (the default labels or a metric's name changed) while the totals kept
   * what they counted there: a series back on one counts on from that (see `CounterLedger.leave`).
   */
  leftBehind?: LeftBehind;
}

/** Whether a handover holds no value at all: nothing to go on from. */
export function deliversNothing(counts: DeliveredCounts): boolean {
  const { acked, unanswered, loads = [] } = counts.writes;
  return (
    acked.size === 0 &&
    unanswered.every((write) => write.counters.size === 0) &&
    loads.every((load) => load.base === undefined || load.base.size === 0) &&
    (counts.before === undefined || deliversNothing(counts.before))
  );
}

interface Delivered {
  counts: DeliveredCounts;
  /**
   * Each metric's series state (prom-client's `hashMap`) when it was delivered. `reset()` (and so
   * `registry.resetMetrics()`) gives a metric a new one, and `registry.clear()` leaves new metrics:
   * their counts start over and are counted whole, even where they came back to the same value.
   */
  seriesStates: ReadonlyMap<string, unknown>;
}

const delivered = new WeakMap<Registry<RegistryContentType>, Map<string, Delivered>>();

/** prom-client's per-series state of a metric (not in its types). */
function seriesStateOf(metric: unknown): unknown {
  return (metric as { hashMap?: unknown } | undefined)?.hashMap;
}

/**
 * Keeps what a stopped manager's flusher had delivered to the store at `place` (a description of the
 * store's location and key prefix).
 */
export function leaveDelivered(
  registry: Registry<RegistryContentType>,
  place: string,
  counts: DeliveredCounts,
): void {
  const seriesStates = new Map<string, unknown>();
  for (const metric of registry.getMetricsAsArray()) {
    seriesStates.set(metric.name, seriesStateOf(metric));
  }
  let places = delivered.get(registry);
  if (places === undefined) delivered.set(registry, (places = new Map()));
  places.set(place, { counts, seriesStates });
}

/**
 * Takes (once) what an earlier manager of this process delivered of `registry` to `place`, for the
 * metrics whose series the registry still holds as then (not reset, not made anew).
 */
export function takeDelivered(
  registry: Registry<RegistryContentType>,
  place: string,
): DeliveredCounts | undefined {
  const places = delivered.get(registry);
  const left = places?.get(place);
  places?.delete(place);
  if (left === undefined) return undefined;
  const unchanged = new Set<string>();
  for (const [name, state] of left.seriesStates) {
    const metric = registry.getSingleMetric(name);
    if (metric !== undefined && seriesStateOf(metric) === state) unchanged.add(name);
  }
  return onlyMetrics(left.counts, unchanged);
}

/** The handover restricted to the series of the metrics `names`. */
function onlyMetrics(counts: DeliveredCounts, names: ReadonlySet<string>): DeliveredCounts {
  const only = (values: ReadonlyMap<string, string>) => {
    const kept = new Map<string, string>();
    for (const [field, packed] of values) {
      const parts = parseSeriesField(field);
      if (parts !== undefined && names.has(parts.metricName)) kept.set(field, packed);
    }
    return kept;
  };
  const { writes, before, leftBehind } = counts;
  return {
    processId: counts.processId,
    writes: {
      ...writes,
      acked: only(writes.acked),
      unanswered: writes.unanswered.map((write) => ({ ...write, counters: only(write.counters) })),
      loads: writes.loads?.map((load) => ({ ...load, base: load.base && only(load.base) })),
    },
    before: before && onlyMetrics(before, names),
    // Held by prom-client's series objects: a metric reset or made anew has new ones, and finds none.
    leftBehind,
  };
}

const objectNumbers = new WeakMap<object, number>();
let lastObjectNumber = 0;

/** A name for one object (a client or store of the user's), the same as long as the object lives. */
export function placeOfObject(object: object): string {
  let number = objectNumbers.get(object);
  if (number === undefined) objectNumbers.set(object, (number = lastObjectNumber += 1));
  return `object ${number}`;
}
