import type { Redis } from 'ioredis';

import { bareField, callsInFlight, SERIES_PER_CALL } from './bare-first-flush.js';

/** A series of the bare loop: prom-client's entry and the field built for it beforehand. */
export interface BareChangedSeries {
  entry: { value: number };
  field: string;
}

/**
 * The least a flush of series known to have changed can do, as one bare loop: pack each series' value
 * and send the lines to Redis in calls of 500 series, 8 before the first reply as the flusher sends (a
 * script that only returns). Which series changed is given, their fields are built beforehand, and
 * nothing is compared or acknowledged: a floor to compare a flush with some series changed with, not a
 * flusher.
 */
export async function bareChangedSend(
  changed: readonly BareChangedSeries[],
  redis: Redis,
): Promise<void> {
  await callsInFlight(Math.ceil(changed.length / SERIES_PER_CALL), (call) => {
    const start = call * SERIES_PER_CALL;
    const end = Math.min(start + SERIES_PER_CALL, changed.length);
    const parts: string[] = [];
    for (let i = start; i < end; i += 1)
      parts.push(changed[i].field, `v ${changed[i].entry.value}`);
    return redis.eval('return 1', 0, parts.join('\n'));
  });
}

/** The series of `counter` whose `series` label is one of `numbers`, with their fields built. */
export function changedSeriesOf(
  counter: object,
  numbers: ReadonlySet<string>,
): BareChangedSeries[] {
  const { hashMap, name } = counter as unknown as {
    hashMap: Record<string, { labels: Record<string, string>; value: number }>;
    name: string;
  };
  return Object.values(hashMap)
    .filter((entry) => numbers.has(entry.labels.series))
    .map((entry) => ({ entry, field: bareField(name, entry.labels) }));
}
