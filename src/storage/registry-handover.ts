import type { Registry, RegistryContentType } from 'prom-client';

import { parseSeriesField } from './keys.js';

/**
 * What a manager that stopped flushing a registry had delivered to a store, kept for the next manager
 * of this process that flushes the same registry to the same place.
 *
 * An app closed and started again in one process (an app per test, an in-process restart) keeps its
 * registry and so its counts: a counter at 1 goes on to 2. The new manager writes under a new process
 * id, whose previous values the store does not know, so without this it would count the 1 a second
 * time (totals 3 for a counter at 2). With it, the new flusher first records these values as its
 * previous ones, counting nothing, and counts only what came since.
 */
export interface DeliveredCounts {
  /** The process (to the store) that delivered them: the next one asks whether the store still holds it. */
  processId: string;
  /** Counter-like field -> packed absolute value, as the totals hold it. */
  values: ReadonlyMap<string, string>;
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
  const values = new Map<string, string>();
  for (const [field, packed] of left.counts.values) {
    const parts = parseSeriesField(field);
    if (parts !== undefined && unchanged.has(parts.metricName)) values.set(field, packed);
  }
  return { ...left.counts, values };
}

const objectNumbers = new WeakMap<object, number>();
let lastObjectNumber = 0;

/** A name for one object (a client or store of the user's), the same as long as the object lives. */
export function placeOfObject(object: object): string {
  let number = objectNumbers.get(object);
  if (number === undefined) objectNumbers.set(object, (number = lastObjectNumber += 1));
  return `object ${number}`;
}
