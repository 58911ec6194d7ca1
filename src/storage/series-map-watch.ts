/**
 * Seeing prom-client change the set of series of a metric without walking its `hashMap`.
 *
 * prom-client keeps a metric's series in a plain object (`hashMap`: its own key of the labels -> the
 * series' numbers). Listing the keys of an object with 100,000 of them costs about 20 ms here, more
 * than everything else a flush does when nothing changed, while the numbers of series already known
 * can be compared through references kept from the last read in well under a millisecond. What must
 * still be seen is a series that appears or goes:
 *
 * - a new series is an assignment to a key the map does not have yet. Such an assignment looks for a
 *   setter along the map's prototype chain, so a Proxy put between the map and its prototype hears
 *   every new key, whichever prom-client method made it, while reads and writes of existing series
 *   never reach it (they find their own property first): no cost on the hot path.
 * - a series goes through `remove()` (and a histogram's is replaced by `zero()`): those calls are
 *   wrapped on the metric to count them; the reader then checks its series against the map.
 * - `reset()` replaces the whole map, which the reader sees by reference.
 */

/** The keys added to one map, in order; a bounded log that several readers may follow. */
export interface AddedKeysLog {
  /** Keys assigned while absent from the map, oldest first. */
  readonly keys: string[];
  /** Times the log was emptied because it grew too long: a reader that saw another count lists the map. */
  readonly cuts: number;
}

/** How many calls removed or replaced series of a metric. */
export interface RemovalCount {
  readonly count: number;
}

/** Past this many keys the log is emptied; its readers then list the map once (as costly as the log). */
const LOG_LIMIT = 65_536;

const logs = new WeakMap<object, { keys: string[]; cuts: number }>();
const removals = new WeakMap<object, { count: number }>();

/**
 * The log of keys added to `hashMap` from now on (the same log for every caller). `undefined` when the
 * map cannot be watched (it is not extensible): the reader then lists it on every read.
 */
export function watchAddedKeys(hashMap: object): AddedKeysLog | undefined {
  const existing = logs.get(hashMap);
  if (existing) return existing;
  const log = { keys: [] as string[], cuts: 0 };
  const prototype = Object.getPrototypeOf(hashMap) as object | null;
  const trap = new Proxy(prototype ?? Object.create(null), {
    set(target, key, value, receiver) {
      if (receiver === hashMap && typeof key === 'string') {
        if (log.keys.length >= LOG_LIMIT) {
          log.keys.length = 0;
          log.cuts += 1;
        }
        log.keys.push(key);
      }
      // Defines the property on the map itself, as the assignment would have without the trap.
      return Reflect.set(target, key, value, receiver);
    },
  });
  if (!Reflect.setPrototypeOf(hashMap, trap)) return undefined;
  logs.set(hashMap, log);
  return log;
}

/** The calls that removed or replaced series of `metric` from now on (wrapped once per metric). */
export function watchRemovals(metric: object): RemovalCount {
  const existing = removals.get(metric);
  if (existing) return existing;
  const counter = { count: 0 };
  const target = metric as Record<string, unknown>;
  for (const method of ['remove', 'zero']) {
    const original = target[method];
    if (typeof original !== 'function') continue;
    target[method] = function (this: unknown, ...args: unknown[]): unknown {
      try {
        return original.apply(this, args);
      } finally {
        counter.count += 1;
      }
    };
  }
  removals.set(metric, counter);
  return counter;
}
