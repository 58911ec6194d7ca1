import { decodeNumber, encodeNumber } from './packed-values.js';

/** One stored gauge value: its value and when it was set (Redis server time, ms since the epoch). */
export interface StoredValue {
  value: number;
  timestamp: number;
}

/** `"<value> <timestamp>"`, as a process's gauges hash holds it. */
export function encodeStoredValue({ value, timestamp }: StoredValue): string {
  return `${encodeNumber(value)} ${encodeNumber(timestamp)}`;
}

/** Reads `"<value> <timestamp>"`; `undefined` when either part is not a number. */
export function decodeStoredValue(text: string): StoredValue | undefined {
  const space = text.indexOf(' ');
  if (space <= 0) return undefined;
  const value = decodeNumber(text.slice(0, space));
  const timestamp = decodeNumber(text.slice(space + 1));
  if (value === undefined || timestamp === undefined || !Number.isFinite(timestamp)) {
    return undefined;
  }
  return { value, timestamp };
}

/**
 * What is wrong with a stored text {@link decodeStoredValue} did not read, naming `field`: its value,
 * or its time (a time that is a number but not finite is left out too: it cannot be compared).
 */
export function storedValueProblem(field: string, text: string): string {
  const space = text.indexOf(' ');
  if (space <= 0 || decodeNumber(text.slice(0, space)) === undefined) {
    return `value of ${field} is not a number`;
  }
  const time = decodeNumber(text.slice(space + 1));
  if (time === undefined) return `time of ${field} is not a number`;
  return `time of ${field} is not finite (${encodeNumber(time)})`;
}
