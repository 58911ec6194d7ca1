import { seriesField, type Labels } from './keys.js';
import { exemplarField } from './stored-exemplar.js';

/**
 * The stored series a deletion names: every series of a metric, or the one of a label set. Series
 * fields are built, never parsed, so a metric's fields are those that start with its name's part of
 * the JSON (`["jobs_total",`), and a series' exemplar fields are its field, alone or followed by a
 * bucket's `le`.
 */
export class SeriesSelection {
  private readonly prefix: string;
  private readonly field: string | undefined;

  constructor(metricName: string, labels?: Labels) {
    this.prefix = `[${JSON.stringify(metricName)},`;
    this.field = labels === undefined ? undefined : seriesField(metricName, labels);
  }

  /** The field of the one series selected; `undefined` when every series of the metric is. */
  get seriesField(): string | undefined {
    return this.field;
  }

  /** Whether a field of the totals is one of the selected series. */
  holdsSeries(field: string): boolean {
    return this.field === undefined ? field.startsWith(this.prefix) : field === this.field;
  }

  /** Whether a field of the exemplars belongs to one of the selected series. */
  holdsExemplar(field: string): boolean {
    if (this.field === undefined) return field.startsWith(this.prefix);
    return field === this.field || field.startsWith(exemplarField(this.field, ''));
  }

  /** A Redis `MATCH` pattern that every field of the selection matches (others may too). */
  get matchPattern(): string {
    return `${escapeGlob(this.field ?? this.prefix)}*`;
  }
}

/** `text` as a Redis glob that matches only itself: `*`, `?`, `[`, `]` and `\` escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}
