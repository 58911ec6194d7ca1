import type { Labels } from './keys.js';
import { decodeNumber, encodeNumber } from './packed-values.js';

/**
 * An exemplar as the store keeps it: what prom-client recorded with an increment or an observation
 * (`enableExemplars`), typically the trace id of the request that made it.
 */
export interface StoredExemplar {
  /** When it was recorded: the store's clock, ms. */
  timestamp: number;
  /** The increment or the observed value. */
  value: number;
  /** The exemplar's own labels, e.g. `{ trace_id: '...' }`. */
  labels: Labels;
}

/**
 * The field of an exemplar in the exemplars hash: the series field of a counter, or of a histogram
 * followed by a space and the bucket's `le` (`+Inf` included). A series field is a JSON array and ends
 * with `]`, which no `le` holds, so the two parts are told apart by the last `]`.
 */
export function exemplarField(seriesField: string, le?: string): string {
  return le === undefined ? seriesField : `${seriesField} ${le}`;
}

/** The parts of an {@link exemplarField}; `undefined` when the text is not one. */
export function parseExemplarField(
  field: string,
): { seriesField: string; le: string | undefined } | undefined {
  const end = field.lastIndexOf(']');
  if (end === -1) return undefined;
  if (end === field.length - 1) return { seriesField: field, le: undefined };
  if (field.charCodeAt(end + 1) !== 32 || end + 2 >= field.length) return undefined;
  return { seriesField: field.slice(0, end + 1), le: field.slice(end + 2) };
}

/**
 * `"<timestamp ms> <value> <labels JSON>"`: the timestamp first, so the write script keeps the most
 * recent exemplar by comparing one number. JSON escapes newlines, so a value is one line.
 */
export function encodeExemplar({ timestamp, value, labels }: StoredExemplar): string {
  return `${encodeNumber(timestamp)} ${encodeNumber(value)} ${JSON.stringify(labels)}`;
}

/** Reads {@link encodeExemplar}'s text; `undefined` when it is not well formed. */
export function decodeExemplar(text: string): StoredExemplar | undefined {
  const first = text.indexOf(' ');
  const second = first === -1 ? -1 : text.indexOf(' ', first + 1);
  if (second === -1) return undefined;
  const timestamp = decodeNumber(text.slice(0, first));
  const value = decodeNumber(text.slice(first + 1, second));
  if (timestamp === undefined || !Number.isFinite(timestamp) || value === undefined) {
    return undefined;
  }
  let labels: unknown;
  try {
    labels = JSON.parse(text.slice(second + 1));
  } catch {
    return undefined;
  }
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  for (const label of Object.values(labels)) if (typeof label !== 'string') return undefined;
  return { timestamp, value, labels: labels as Labels };
}
