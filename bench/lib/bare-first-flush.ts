import type { Redis } from 'ioredis';

/** Series per call, as the flusher's batches of counters hold them. */
export const SERIES_PER_CALL = 500;
/** Calls sent before the first of them is answered, as the flusher sends its batches. */
export const CALLS_IN_FLIGHT = 8;

/**
 * Makes `count` calls, `call(i)` for each, up to {@link CALLS_IN_FLIGHT} of them before the first
 * reply, and runs `answered(i)` for each reply in order.
 */
export async function callsInFlight(
  count: number,
  call: (i: number) => Promise<unknown>,
  answered: (i: number) => void = () => undefined,
): Promise<void> {
  const replies: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += 1) {
    while (replies.length < count && replies.length - i < CALLS_IN_FLIGHT) {
      replies.push(call(replies.length));
    }
    await replies[i];
    answered(i);
  }
}

/**
 * The least a first flush of one prom-client counter can do, as one bare loop: list the series, copy
 * each labels object, build each series' field, pack its value, and send the lines to Redis in calls
 * of 500 series, 8 before the first reply as the flusher sends (a script that only returns). With
 * `ledger`, it also keeps a record per series in one hash map by field, with what it read and what
 * Redis acknowledged, as the flusher's ledger does (and, as the flusher does, acknowledges each call's
 * series through their records, not by field). It escapes nothing, keeps no repair state and reads no
 * other metric type: a floor to compare the flusher with, not a flusher.
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
  const calls = Math.ceil(fields.length / SERIES_PER_CALL);
  const range = (call: number) => {
    const start = call * SERIES_PER_CALL;
    return { start, end: Math.min(start + SERIES_PER_CALL, fields.length) };
  };
  await callsInFlight(
    calls,
    (call) => {
      const { start, end } = range(call);
      const parts: string[] = [];
      for (let i = start; i < end; i += 1) parts.push(fields[i], values[i]);
      return redis.eval('return 1', 0, parts.join('\n'));
    },
    (call) => {
      if (!ledger) return;
      const { start, end } = range(call);
      for (let i = start; i < end; i += 1) sent[i].acked = values[i];
    },
  );
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
