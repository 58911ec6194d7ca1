import type { Redis } from 'ioredis';

/** Series per call, as the flusher's batches of counters hold them. */
export const SERIES_PER_CALL = 500;

/**
 * The least a first flush of one prom-client counter can do, as one bare loop: list the series, copy
 * each labels object, build each series' field, pack its value, and send the lines to Redis in calls
 * of 500 series (a script that only returns). With `ledger`, it also keeps a record per series in one
 * hash map by field, with what it read and what Redis acknowledged, as the flusher's ledger does (and,
 * as the flusher does, acknowledges each call's series through their records, not by field). It
 * escapes nothing, keeps no repair state and reads no other metric type: a floor to compare the
 * flusher with, not a flusher.
 */
export async function bareFirstFlush(
  counter: object,
  redis: Redis,
  { ledger }: { ledger: boolean },
): Promise<void> {
  const hashMap = (counter as unknown as { hashMap: Record<string, BareEntry> }).hashMap;
  const name = (counter as unknown as { name: string }).name;
  const keys = Object.keys(hashMap);
  const fields: string[] = [];
  const values: string[] = [];
  const records = new Map<string, BareRecord>();
  const sent: BareRecord[] = [];
  for (const key of keys) {
    const entry = hashMap[key];
    const labels = { ...entry.labels };
    const field = bareField(name, labels);
    const packed = `v ${entry.value}`;
    fields.push(field);
    values.push(packed);
    if (ledger) {
      const record: BareRecord = { field, shown: packed, acked: undefined };
      records.set(field, record);
      sent.push(record);
    }
  }
  for (let start = 0; start < fields.length; start += SERIES_PER_CALL) {
    const end = Math.min(start + SERIES_PER_CALL, fields.length);
    const parts: string[] = [];
    for (let i = start; i < end; i += 1) parts.push(fields[i], values[i]);
    await redis.eval('return 1', 0, parts.join('\n'));
    if (ledger) for (let i = start; i < end; i += 1) sent[i].acked = values[i];
  }
}

/**
 * A series' field as the bare loops build it: the benchmark's label names are in sorted order already,
 * so JSON.stringify writes the field's body. Joined, so that it is one flat string as the flusher's are.
 */
export function bareField(name: string, labels: Record<string, string>): string {
  return ['[', JSON.stringify(name), ',', JSON.stringify(labels), ']'].join('');
}

interface BareRecord {
  field: string;
  shown: string;
  acked: string | undefined;
}

interface BareEntry {
  labels: Record<string, string>;
  value: number;
}
