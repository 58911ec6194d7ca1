/** One stored sample: its value and when it was written (Redis server time, ms since the epoch). */
export interface StoredValue {
  value: number;
  timestamp: number;
}

/** The stored text of a value without its timestamp; `String` keeps every float exactly. */
export function encodeNumber(value: number): string {
  return String(value);
}

/** Reads `"<value> <timestamp>"`; `undefined` when either part is not a number. */
export function decodeStoredValue(text: string): StoredValue | undefined {
  const space = text.indexOf(' ');
  if (space <= 0) return undefined;
  const value = parseNumber(text.slice(0, space));
  const timestamp = parseNumber(text.slice(space + 1));
  if (value === undefined || timestamp === undefined) return undefined;
  return { value, timestamp };
}

function parseNumber(text: string): number | undefined {
  const number = Number(text);
  if (Number.isNaN(number)) return text === 'NaN' ? NaN : undefined;
  // Number('') and Number(' ') are 0: only a zero needs the (slower) check for blank text.
  return number === 0 && text.trim() === '' ? undefined : number;
}
