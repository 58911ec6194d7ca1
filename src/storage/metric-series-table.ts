import { encodeNumber } from './packed-values.js';
import { SeriesFieldBuilder } from './series-field-builder.js';
import {
  watchAddedKeys,
  watchRemovals,
  type AddedKeysLog,
  type RemovalCount,
} from './series-map-watch.js';

/** The prom-client metric types whose per-series state a table reads directly. */
export type TableKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Where tables keep what the registry holds, and note the fields that changed. */
export interface SeriesSink {
  /** Gauge series field -> value. */
  gauges: Map<string, number>;
  /** Gauge series field -> local time (ms, `performance.now()`) of the call that set it; timed gauges only. */
  gaugeTimes: Map<string, number>;
  /** Counter-like series field -> packed value. */
  counters: Map<string, string>;
  /** Fields whose entry in the maps above was set, changed or deleted by this read. */
  touched: Set<string>;
}

/** A metric of a known type as prom-client keeps it (only what the table reads). */
export interface TableMetric {
  name: string;
  hashMap: Record<string, unknown>;
  labelNames?: readonly string[];
  /** Histograms: the buckets' upper bounds. */
  upperBounds?: readonly number[];
  /** Summaries: series with no observation in their window leave on read. */
  pruneAgedBuckets?: boolean;
}

interface Entry {
  labels: Record<string, unknown>;
  value?: number;
  count?: number;
  sum?: number;
  bucketValues?: Record<string, number>;
  td?: { size(): number };
}

/** What a table remembers of one series of prom-client. */
interface Series {
  key: string;
  entry: Entry;
  /** Its field, '' until it has one. */
  field: string;
  /** The numbers last written to the sink (value, or count and sum). */
  a: number;
  b: number;
  /** Timed gauges: the local time of the call that set the value last written. */
  setAt: number | undefined;
  /** Whether `a`, `b` and `setAt` are what the sink shows under `field` (false for a new field). */
  written: boolean;
  /** Whether the sink holds its field (a timed gauge never set is not shown). */
  shown: boolean;
  /** The entry object is new: its labels must be read again. */
  fresh: boolean;
  /** The last full listing that saw it. */
  listed: number;
}

const same = (x: number, y: number): boolean => x === y || (x !== x && y !== y);

/**
 * The series of one prom-client Counter, Gauge, Histogram or Summary, kept up to date in a
 * {@link SeriesSink} by reading prom-client's own per-series state (`metric.hashMap`), so that a read
 * costs the series that changed, not the series held (see series-map-watch.ts):
 *
 * - numbers are compared through the entry objects kept from the last read (a counter's, histogram's
 *   and summary's entry is updated in place); a gauge's `set()` replaces its entry, so gauge entries
 *   are looked up by key on every read;
 * - a series' field is built once, when its entry is first seen; its labels object is then replaced by
 *   a copy of its own (as `getMetricsAsJSON()` itself does when the registry has default labels), so a
 *   labels object the app changes later changes neither what prom-client shows nor what is flushed;
 * - new series come from the map's added-keys log, removals from the count of `remove()`/`zero()`
 *   calls, a `reset()` from the map's identity.
 *
 * `read` returns false when the metric cannot be kept this way (two series with one field, an entry of
 * an unknown shape, a histogram `le` label): the reader then reads it through `get()`.
 */
export class MetricSeriesTable {
  private hashMap: Record<string, unknown> | undefined;
  private log: AddedKeysLog | undefined;
  private logPosition = 0;
  private logCuts = 0;
  private readonly removals: RemovalCount;
  private removalsSeen = 0;
  private series: Series[] = [];
  private listings = 0;
  private readonly byKey = new Map<string, Series>();
  private readonly byField = new Map<string, Series>();
  private builder: SeriesFieldBuilder | undefined;
  private defaults: Readonly<Record<string, unknown>> = {};
  /** Histograms: the bounds and their `le` texts, in order. */
  private readonly bounds: readonly number[];
  private readonly les: string[];

  /** Where the read in progress writes. */
  private sink!: SeriesSink;

  constructor(
    readonly metric: TableMetric,
    readonly kind: TableKind,
  ) {
    this.removals = watchRemovals(metric);
    this.bounds = metric.upperBounds ?? [];
    this.les = this.bounds.map((bound) => String(bound));
  }

  /**
   * Brings the sink up to date with the metric.
   * @param sink where the series are kept, and the changed fields noted.
   * @param defaults the registry's default labels (a new object whenever they changed).
   * @param times timed gauges: prom-client's series key -> local time of the last setting call.
   * @returns false when the metric must be read through `get()` from now on.
   */
  read(
    sink: SeriesSink,
    defaults: Readonly<Record<string, unknown>>,
    times: ReadonlyMap<string, number> | undefined,
  ): boolean {
    this.sink = sink;
    const { metric } = this;
    if (this.kind === 'histogram' && Object.hasOwn(defaults, 'le')) return false;
    if (this.builder?.metricName !== metric.name || this.defaults !== defaults) {
      this.defaults = defaults;
      this.builder = new SeriesFieldBuilder(
        metric.name,
        metric.labelNames ?? [],
        defaults,
        this.kind === 'histogram' ? 'le' : undefined,
      );
      if (!this.renameAll()) return false;
    }
    if (!this.followSeries()) return false;
    return this.compareNumbers(times);
  }

  /** Takes every series of this table out of the sink (the metric left the registry). */
  drop(sink: SeriesSink): void {
    this.sink = sink;
    for (const series of this.series) this.hide(series);
    this.series = [];
    this.byKey.clear();
    this.byField.clear();
  }

  /** Finds series that appeared, went or were replaced since the last read. */
  private followSeries(): boolean {
    const map = this.metric.hashMap;
    const log = this.log;
    if (map !== this.hashMap || log === undefined || log.cuts !== this.logCuts) {
      return this.listAll(map);
    }
    for (let i = this.logPosition; i < log.keys.length; i += 1) {
      const key = log.keys[i];
      const entry = map[key] as Entry | undefined;
      if (entry === undefined) continue; // added and removed again: the removal count tells
      const known = this.byKey.get(key);
      if (known === undefined) this.add(key, entry);
      else if (known.entry !== entry) this.replace(known, entry);
    }
    this.logPosition = log.keys.length;
    const removed = this.removals.count !== this.removalsSeen;
    this.removalsSeen = this.removals.count;
    if (removed || this.kind === 'gauge' || this.metric.pruneAgedBuckets) this.lookUpAll(map);
    return this.claimFresh();
  }

  /** Lists the whole map: the first read, after `reset()`, or when the log was cut. */
  private listAll(map: Record<string, unknown>): boolean {
    // Watch first, then list: nothing added in between can be missed (all of it is synchronous).
    this.log = watchAddedKeys(map);
    this.hashMap = map;
    this.logCuts = this.log?.cuts ?? 0;
    this.logPosition = this.log?.keys.length ?? 0;
    this.removalsSeen = this.removals.count;
    const listing = (this.listings += 1);
    let seen = 0;
    for (const key of Object.keys(map)) {
      const entry = map[key] as Entry;
      const known = this.byKey.get(key);
      const series = known ?? this.add(key, entry);
      if (known !== undefined && known.entry !== entry) this.replace(known, entry);
      series.listed = listing;
      seen += 1;
    }
    if (seen !== this.series.length) {
      for (const series of this.series) if (series.listed !== listing) this.remove(series);
      this.series = this.series.filter((series) => series.listed === listing);
    }
    return this.claimFresh();
  }

  /** Looks every known series up by key: removed ones leave, replaced ones are read again. */
  private lookUpAll(map: Record<string, unknown>): void {
    let kept = 0;
    const prune = this.metric.pruneAgedBuckets === true;
    for (const series of this.series) {
      const entry = map[series.key] as Entry | undefined;
      if (entry !== undefined && prune && entry.td?.size() === 0) {
        // As Summary.get() does: a series with nothing in its time window leaves prom-client.
        delete map[series.key];
        this.remove(series);
        continue;
      }
      if (entry === undefined) {
        this.remove(series);
        continue;
      }
      if (entry !== series.entry) this.replace(series, entry);
      this.series[kept++] = series;
    }
    this.series.length = kept;
  }

  private add(key: string, entry: Entry): Series {
    const series: Series = {
      key,
      entry,
      field: '',
      a: NaN,
      b: NaN,
      setAt: undefined,
      written: false,
      shown: false,
      fresh: true,
      listed: this.listings,
    };
    this.byKey.set(key, series);
    this.series.push(series);
    return series;
  }

  private replace(series: Series, entry: Entry): void {
    series.entry = entry;
    series.fresh = true;
  }

  private remove(series: Series): void {
    this.byKey.delete(series.key);
    if (this.byField.get(series.field) === series) this.byField.delete(series.field);
    this.hide(series);
  }

  /** Gives every series with a new entry its own labels copy and its field. */
  private claimFresh(): boolean {
    for (const series of this.series) {
      if (!series.fresh) continue;
      const { entry } = series;
      if (!this.wellFormed(entry)) return false;
      entry.labels = Object.assign({}, entry.labels);
      const field = this.builder!.field(entry.labels);
      if (field === undefined) return false;
      if (field !== series.field) {
        if (this.byField.get(series.field) === series) this.byField.delete(series.field);
        this.hide(series);
        series.field = field;
        series.written = false;
      }
      const owner = this.byField.get(field);
      if (owner !== undefined && owner !== series) return false;
      this.byField.set(field, series);
      series.fresh = false;
    }
    return true;
  }

  /** Builds every field again (the metric's name or the default labels changed). */
  private renameAll(): boolean {
    for (const series of this.series) {
      this.hide(series);
      series.fresh = true;
      series.written = false;
      series.field = '';
    }
    this.byField.clear();
    return this.claimFresh();
  }

  private wellFormed(entry: Entry): boolean {
    if (typeof entry !== 'object' || entry === null) return false;
    if (typeof entry.labels !== 'object' || entry.labels === null) return false;
    if (this.kind === 'counter' || this.kind === 'gauge') return typeof entry.value === 'number';
    if (typeof entry.count !== 'number' || typeof entry.sum !== 'number') return false;
    return (
      this.kind === 'summary' ||
      (typeof entry.bucketValues === 'object' && entry.bucketValues !== null)
    );
  }

  /** Writes the series whose numbers (or, for timed gauges, setting call) changed. */
  private compareNumbers(times: ReadonlyMap<string, number> | undefined): boolean {
    const { series } = this;
    switch (this.kind) {
      case 'counter':
        for (let i = 0; i < series.length; i += 1) {
          const s = series[i];
          const value = s.entry.value!;
          if (s.written && same(value, s.a)) continue;
          s.a = value;
          this.showCounter(s, `v ${encodeNumber(value)}`);
        }
        return true;
      case 'gauge':
        for (let i = 0; i < series.length; i += 1) {
          const s = series[i];
          const value = s.entry.value!;
          const setAt = times?.get(s.key);
          if (s.written && same(value, s.a) && s.setAt === setAt) continue;
          s.a = value;
          s.setAt = setAt;
          this.showGauge(s, times !== undefined, value, setAt);
        }
        return true;
      default:
        for (let i = 0; i < series.length; i += 1) {
          const s = series[i];
          const { count, sum } = s.entry as Required<Pick<Entry, 'count' | 'sum'>>;
          if (s.written && same(count, s.a) && same(sum, s.b)) continue;
          s.a = count;
          s.b = sum;
          this.showCounter(s, this.pack(s.entry, count, sum));
        }
        return true;
    }
  }

  /** A histogram's or summary's packed value (see packed-values.ts), as the reference builds it. */
  private pack(entry: Entry, count: number, sum: number): string {
    let text = `c ${encodeNumber(count)} s ${encodeNumber(sum)}`;
    if (this.kind === 'summary') return text;
    const buckets = entry.bucketValues!;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i += 1) {
      cumulative += buckets[this.bounds[i]];
      text += ` ${this.les[i]} ${encodeNumber(cumulative)}`;
    }
    return `${text} +Inf ${encodeNumber(count)}`;
  }

  private showCounter(series: Series, packed: string): void {
    this.sink.counters.set(series.field, packed);
    this.sink.touched.add(series.field);
    series.shown = true;
    series.written = true;
  }

  private showGauge(
    series: Series,
    timed: boolean,
    value: number,
    setAt: number | undefined,
  ): void {
    const { sink } = this;
    if (timed && setAt === undefined) {
      // A value this process never set (prom-client's initial 0) does not compete.
      this.hide(series);
      series.written = true;
      return;
    }
    sink.gauges.set(series.field, value);
    if (setAt === undefined) sink.gaugeTimes.delete(series.field);
    else sink.gaugeTimes.set(series.field, setAt);
    sink.touched.add(series.field);
    series.shown = true;
    series.written = true;
  }

  private hide(series: Series): void {
    if (!series.shown) return;
    const { sink } = this;
    if (this.kind === 'gauge') {
      sink.gauges.delete(series.field);
      sink.gaugeTimes.delete(series.field);
    } else {
      sink.counters.delete(series.field);
    }
    sink.touched.add(series.field);
    series.shown = false;
  }
}
