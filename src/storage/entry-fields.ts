import { SeriesFieldBuilder } from './series-field-builder.js';

/** A prom-client series entry, as far as its field goes. */
interface LabelledEntry {
  labels?: unknown;
}

/**
 * The series fields of one metric's entries (prom-client's `hashMap` values), built with the same
 * builder the registry reader uses, so they match the fields of the totals exactly; each is built
 * once per entry and labels object, and again when the registry's default labels change.
 */
export class EntryFields {
  private builder: SeriesFieldBuilder | undefined;
  private defaultsSeen: Readonly<Record<string, unknown>> = {};
  private cache = new WeakMap<object, { labels: object; field: string | undefined }>();

  constructor(
    private readonly metricName: string,
    private readonly labelNames: readonly string[],
    /** A label the field leaves out (a histogram's `le`). */
    private readonly without?: string,
  ) {}

  /** Call once per read, before {@link field}: the registry's current default labels. */
  useDefaults(defaults: Readonly<Record<string, unknown>>): void {
    if (this.builder && sameLabels(defaults, this.defaultsSeen)) return;
    this.defaultsSeen = { ...defaults };
    this.builder = new SeriesFieldBuilder(
      this.metricName,
      this.labelNames,
      this.defaultsSeen,
      this.without,
    );
    this.cache = new WeakMap();
  }

  /** The field of an entry; `undefined` when it has no labels object or holds the label left out. */
  field(entry: LabelledEntry): string | undefined {
    const labels = entry.labels;
    if (typeof labels !== 'object' || labels === null) return undefined;
    const cached = this.cache.get(entry);
    if (cached && cached.labels === labels) return cached.field;
    const field = this.builder!.field(labels as Record<string, unknown>);
    this.cache.set(entry, { labels, field });
    return field;
  }
}

/** The default labels of a registry (prom-client keeps them on `_defaultLabels`). */
export function defaultLabelsOf(registry: object): Readonly<Record<string, unknown>> {
  const labels = (registry as { _defaultLabels?: unknown })._defaultLabels;
  return labels !== null && typeof labels === 'object' ? (labels as Record<string, unknown>) : {};
}

function sameLabels(
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
): boolean {
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((name) => Object.hasOwn(b, name) && b[name] === a[name])
  );
}
