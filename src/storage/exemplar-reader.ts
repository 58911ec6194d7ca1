import { Counter, Histogram, type Registry, type RegistryContentType } from 'prom-client';

import { monotonicTimeOf, readClocks, type ClockReading } from './clock-offset.js';
import { defaultLabelsOf, EntryFields } from './entry-fields.js';
import { exemplarField } from './stored-exemplar.js';

/** An exemplar prom-client holds, as this process last read it. */
export interface RecordedExemplar {
  /** The exemplar's labels, as strings. */
  labels: Record<string, string>;
  value: number;
  /**
   * When it was recorded, on this process's monotonic clock (`performance.now()`, ms), converted from
   * prom-client's wall-clock time when it was read.
   */
  recordedAt: number;
  /**
   * Its stored text, set by the writer once the store's clock is known: kept with the exemplar so that
   * an unchanged one is recognised by this text and never sent again.
   */
  stored?: string;
}

/** prom-client's `Exemplar` (lib/exemplar.js), mutated in place at each increment or observation. */
interface PromExemplar {
  labelSet: unknown;
  value: unknown;
  timestamp?: unknown;
}

interface Entry {
  labels?: unknown;
  exemplar?: PromExemplar | null;
  bucketExemplars?: Record<string, PromExemplar | null | undefined>;
}

interface ExemplarMetric {
  name: string;
  labelNames?: readonly string[];
  enableExemplars?: boolean;
  hashMap: Record<string, Entry | undefined>;
}

/** What an exemplar was read from, to tell at the next read whether it changed. */
interface Seen {
  source: PromExemplar;
  labelSet: unknown;
  value: unknown;
  timestamp: unknown;
  recorded: RecordedExemplar;
}

/**
 * Reads the exemplars of every counter and histogram of a registry made with `enableExemplars`: a
 * counter series' last exemplar (`hashMap[key].exemplar`) and each histogram bucket's
 * (`hashMap[key].bucketExemplars[bound]`, bound `-1` being `+Inf`), keyed by their exemplar fields
 * (see stored-exemplar.ts). prom-client updates an exemplar object in place; one is read again only
 * when its time, value or label set changed. Metrics without exemplars cost nothing here.
 */
export class ExemplarReader {
  /** Exemplar field -> the exemplar this process holds for it. */
  readonly exemplars = new Map<string, RecordedExemplar>();
  private readonly fields = new WeakMap<object, EntryFields>();
  private seen = new Map<string, Seen>();

  constructor(private readonly registry: Registry<RegistryContentType>) {}

  /** Brings {@link exemplars} up to date with the registry. */
  read(): void {
    const defaults = defaultLabelsOf(this.registry);
    const seen = new Map<string, Seen>();
    const clocks = readClocks();
    for (const metric of this.registry.getMetricsAsArray() as object[]) {
      // Only prom-client's own classes, whose state is known (as the registry reader decides).
      const own = metric as Record<string, unknown>;
      const counter = metric instanceof Counter && own.get === Counter.prototype.get;
      const histogram =
        metric instanceof Histogram &&
        own.getForPromString ===
          (Histogram.prototype as unknown as Record<string, unknown>).getForPromString;
      const exemplary = own as unknown as ExemplarMetric;
      if (!(counter || histogram) || exemplary.enableExemplars !== true) continue;
      let fields = this.fields.get(exemplary);
      if (!fields) {
        fields = new EntryFields(
          exemplary.name,
          exemplary.labelNames ?? [],
          histogram ? 'le' : undefined,
        );
        this.fields.set(exemplary, fields);
      }
      fields.useDefaults(defaults);
      const map = exemplary.hashMap;
      for (const key of Object.keys(map)) {
        const entry = map[key];
        if (!entry) continue;
        const series = fields.field(entry);
        if (series === undefined) continue;
        if (counter) {
          this.take(seen, clocks, exemplarField(series), entry.exemplar);
          continue;
        }
        const buckets = entry.bucketExemplars;
        if (typeof buckets !== 'object' || buckets === null) continue;
        for (const bound of Object.keys(buckets)) {
          const le = bound === '-1' ? '+Inf' : bound;
          this.take(seen, clocks, exemplarField(series, le), buckets[bound]);
        }
      }
    }
    this.exemplars.clear();
    for (const [field, { recorded }] of seen) this.exemplars.set(field, recorded);
    this.seen = seen;
  }

  private take(
    seen: Map<string, Seen>,
    clocks: ClockReading,
    field: string,
    source: PromExemplar | null | undefined,
  ): void {
    if (typeof source !== 'object' || source === null) return;
    const { labelSet, value, timestamp } = source;
    const before = this.seen.get(field);
    if (
      before !== undefined &&
      before.source === source &&
      before.labelSet === labelSet &&
      Object.is(before.value, value) &&
      Object.is(before.timestamp, timestamp)
    ) {
      seen.set(field, before);
      return;
    }
    const recorded = readExemplar(labelSet, value, timestamp, clocks);
    if (recorded) seen.set(field, { source, labelSet, value, timestamp, recorded });
  }
}

/** An exemplar as recorded; `undefined` when it holds nothing to serve (never set, no labels). */
function readExemplar(
  labelSet: unknown,
  value: unknown,
  timestamp: unknown,
  clocks: ClockReading,
): RecordedExemplar | undefined {
  if (typeof labelSet !== 'object' || labelSet === null) return undefined;
  if (typeof value !== 'number' || typeof timestamp !== 'number') return undefined;
  if (!Number.isFinite(timestamp)) return undefined;
  const labels: Record<string, string> = {};
  for (const [name, label] of Object.entries(labelSet)) {
    if (label !== undefined) labels[name] = String(label);
  }
  if (Object.keys(labels).length === 0) return undefined;
  // prom-client's timestamp is in seconds (`Date.now() / 1000`). It was recorded before this read:
  // a wall clock stepped back since then would otherwise date it in the future, where it would win
  // over every exemplar recorded later, by any process, for as long as the step.
  const recordedAt = Math.min(clocks.local, monotonicTimeOf(timestamp * 1000, clocks));
  return { labels, value, recordedAt };
}
