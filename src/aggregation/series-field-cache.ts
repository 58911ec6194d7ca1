import { parseSeriesField, seriesField } from '../storage/keys.js';
import { labelsKey } from './metric-family.js';
import { validLabelName } from '../prometheus-names.js';
import type { SeriesIdentity } from './prefix-data.js';

/** A parsed series field; `null` when the field is not one, as writers spell it. */
export type ParsedField = (SeriesIdentity & { badLabel: string | undefined }) | null;

/**
 * Parsed series fields, kept from one scrape to the next: the same fields come back every scrape, and
 * parsing them (JSON, a canonical key, label checks) was half of a scrape's time. Two generations: a
 * field unseen for a whole scrape is forgotten, so the cache holds at most two scrapes' fields.
 */
export class SeriesFieldCache {
  private current = new Map<string, ParsedField>();
  private previous = new Map<string, ParsedField>();

  /** The parts of a field, parsed once. */
  get(field: string): ParsedField {
    let parsed = this.current.get(field);
    if (parsed !== undefined) return parsed;
    parsed = this.previous.get(field);
    if (parsed === undefined) parsed = parse(field);
    this.current.set(field, parsed);
    return parsed;
  }

  /** Ends a scrape: fields it did not use are dropped at the end of the next one. */
  endScrape(): void {
    this.previous = this.current;
    this.current = new Map();
  }
}

function parse(field: string): ParsedField {
  const parts = parseSeriesField(field);
  // Writers spell a series one way only (`seriesField`); another spelling of it (labels in another
  // order, spaces) is a field of its own, which would be served as a second series of the same labels.
  if (!parts || seriesField(parts.metricName, parts.labels) !== field) return null;
  const badLabel = Object.keys(parts.labels).find((name) => !validLabelName(name));
  return { ...parts, key: labelsKey(parts.labels), badLabel };
}
