import type { CounterLedger, CounterSeries } from './counter-ledger.js';
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
  /** Counter-like series: field -> packed value, and the series that changed. */
  counters: CounterLedger;
  /** Gauge fields whose entry in the maps above was set, changed or deleted by this read. */
  touched: Set<string>;
  /**
   * Set when a read listed a large metric anew (its first read, a `reset()`): any field may have
   * changed, and `touched` is not kept up (a first read would otherwise note every gauge one by one).
   * The ledger lists its changed series anyway: that costs no lookup.
   */
  all: boolean;
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

/** A listing of more keys than this marks every field as possibly changed rather than each one. */
const LISTING_TOUCH_LIMIT = 1024;

/**
 * New series whose field one turn of a read of a counter, histogram or summary builds, and changed
 * series it writes to the sink: a read with more stops and is resumed after the event loop ran (see
 * {@link MetricSeriesTable.resume}), so a first read of a large metric does not hold up requests for
 * its whole length. About 10 ms of building here.
 */
export const SERIES_PER_TURN = 8192;

/** How a turn of a read ended (see {@link MetricSeriesTable.read}). */
export type TableReadOutcome = 'read' | 'unfinished' | 'unreadable';

/** Flags of a series (see {@link MetricSeriesTable}). */
const WRITTEN = 1; // its numbers are what the sink shows under its field (not so for a new field)
const SHOWN = 2; // the sink holds its field (a timed gauge never set is not shown)
const FRESH = 4; // its entry object is new: its labels must be read again

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
 * `read` returns `'unreadable'` when the metric cannot be kept this way: two series on one field (see
 * `claimed`), an entry of an unknown shape, a histogram `le` label. The reader then reads it through
 * `get()`, as the reference does. It returns `'unfinished'` when more than {@link SERIES_PER_TURN}
 * series of a counter, histogram or summary are new, were listed or changed: the reader lets the event
 * loop run and calls `resume` until the read is done.
 */
export class MetricSeriesTable {
  private hashMap: Record<string, unknown> | undefined;
  private log: AddedKeysLog | undefined;
  private logPosition = 0;
  private logCuts = 0;
  private readonly removals: RemovalCount;
  private removalsSeen = 0;
  // One series per index, in columns rather than an object each: a table may hold 100,000 series,
  // and fewer objects to allocate and keep is less garbage collection on a first read.
  /** prom-client's key of the series in `hashMap`. */
  private keys: string[] = [];
  /** prom-client's object for the series (updated in place by most calls). */
  private entries: Entry[] = [];
  /** Its field, '' until it has one. */
  private fields: string[] = [];
  /** The numbers last written to the sink: value, or count and sum. */
  private firsts: number[] = [];
  private seconds: number[] = [];
  /** Timed gauges: the local time of the call that set the value last written. */
  private setAts: (number | undefined)[] = [];
  /** Counter-like series: its record in the ledger while it shows its field. */
  private records: (CounterSeries | undefined)[] = [];
  private flags: number[] = [];
  private builder: SeriesFieldBuilder | undefined;
  private defaults: Readonly<Record<string, unknown>> = {};
  /** Set when two series showed one field: the metric must be read through `get()`. */
  private shared = false;
  /** Histograms: the bounds and their `le` texts, in order. */
  private readonly bounds: readonly number[];
  private readonly les: string[];
  /** Where the read in progress writes. */
  private sink!: SeriesSink;
  /**
   * The read in progress: no new series before the first index, no number left to compare before
   * the second, and the timed gauges' call times.
   */
  private claimFrom = 0;
  private compareFrom = 0;
  private times: ReadonlyMap<string, number> | undefined;
  /** Whether series of the metric moved away (see `CounterLedger.mayComeBack`), as of this read. */
  private mayComeBack = false;

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
   * @param name the name its fields begin with (the reader's: see `RegistryReader`).
   * @param sink where the series are kept, and the changed fields noted.
   * @param defaults the registry's default labels (a new object whenever they changed).
   * @param times timed gauges: prom-client's series key -> local time of the last setting call.
   * @returns `'unreadable'` when the metric must be read through `get()` from now on; `'unfinished'`
   *   when the read must be resumed (see {@link resume}).
   */
  read(
    name: string,
    sink: SeriesSink,
    defaults: Readonly<Record<string, unknown>>,
    times: ReadonlyMap<string, number> | undefined,
  ): TableReadOutcome {
    this.sink = sink;
    this.times = times;
    this.claimFrom = 0;
    this.compareFrom = 0;
    const { metric } = this;
    if (this.kind === 'histogram' && Object.hasOwn(defaults, 'le')) return 'unreadable';
    if (this.builder?.metricName !== name || this.defaults !== defaults) {
      this.defaults = defaults;
      this.builder = new SeriesFieldBuilder(
        name,
        metric.labelNames ?? [],
        defaults,
        this.kind === 'histogram' ? 'le' : undefined,
      );
      this.renameAll();
    }
    // Once per read, not per series: whether a new series may be one back on a field it left.
    this.mayComeBack = this.kind !== 'gauge' && sink.counters.mayComeBack(metric);
    const listed = this.followSeries();
    // A large listing is a turn's work of its own: the fields are built from the next turn on.
    if (listed > SERIES_PER_TURN && this.kind !== 'gauge') return 'unfinished';
    return this.resume();
  }

  /**
   * Goes on with an unfinished read: builds the fields of the next new series, and once every one
   * has its field, compares the numbers. What changed in the metric in between is seen by the next
   * read, as if it had changed after this one (a series compared in a later turn may show it now).
   */
  resume(): TableReadOutcome {
    // A gauge's set() replaces its entry: across turns, the entry kept would be older than the time of
    // the call read from the live call times. Gauges are read in one turn.
    const limit = this.kind === 'gauge' ? Infinity : SERIES_PER_TURN;
    const claimed = this.claimFresh(limit);
    if (claimed !== 'done') return claimed;
    if (this.compareNumbers(this.times, limit) === 'unfinished') return 'unfinished';
    this.times = undefined;
    return this.shared ? 'unreadable' : 'read';
  }

  /**
   * The metric left the registry: its series leave with their numbers as they are now, which may be
   * more than the last read showed (see {@link removed}).
   */
  retire(sink: SeriesSink): void {
    this.sink = sink;
    for (let i = 0; i < this.keys.length; i += 1) this.removed(i);
    this.drop(sink);
  }

  /**
   * Takes every series of this table out of the sink (the metric left the registry, or is read another
   * way from now on).
   * @param keepShown false when what the table showed may not be its series' values (a read found it
   *   unreadable: two series on one field, say), so that no value it showed is written again.
   */
  drop(sink: SeriesSink, keepShown = true): void {
    this.sink = sink;
    for (let i = 0; i < this.keys.length; i += 1) this.hide(i, keepShown);
    this.keys = [];
    this.entries = [];
    this.fields = [];
    this.firsts = [];
    this.seconds = [];
    this.setAts = [];
    this.records = [];
    this.flags = [];
  }

  /**
   * Finds series that appeared, went or were replaced since the last read. Returns how many series
   * a listing of the whole map found, or 0 when none was needed.
   */
  private followSeries(): number {
    const map = this.metric.hashMap;
    const log = this.log;
    if (map !== this.hashMap || log === undefined || log.cuts !== this.logCuts) {
      // A map replaced (`reset()`): its series leave with their last numbers, as removed ones do.
      if (map !== this.hashMap) for (let i = 0; i < this.keys.length; i += 1) this.removed(i);
      this.listAll(map);
      return this.keys.length;
    }
    const end = log.keys.length;
    const removed = this.removals.count !== this.removalsSeen;
    this.removalsSeen = this.removals.count;
    if (removed || this.kind === 'gauge' || this.metric.pruneAgedBuckets) {
      // A key logged again was removed and assigned anew: its old series goes, the log adds the new.
      const again = new Set<string>();
      for (let i = this.logPosition; i < end; i += 1) again.add(log.keys[i]);
      this.lookUpAll(map, again);
    }
    // Without a removal a logged key is one no series has had.
    const added = new Set<string>();
    for (let i = this.logPosition; i < end; i += 1) {
      const key = log.keys[i];
      const entry = map[key] as Entry | undefined;
      // Added and removed again before this read: nothing to show.
      if (entry !== undefined && !added.has(key)) {
        added.add(key);
        this.add(key, entry);
      }
    }
    this.logPosition = end;
    return 0;
  }

  /** Lists the whole map anew: the first read, after `reset()`, or when the log was cut. */
  private listAll(map: Record<string, unknown>): void {
    const keys = Object.keys(map);
    if (keys.length + this.keys.length > LISTING_TOUCH_LIMIT) this.sink.all = true;
    this.drop(this.sink);
    // Watch first, then list: nothing added in between can be missed (all of it is synchronous).
    this.log = watchAddedKeys(map);
    this.hashMap = map;
    this.logCuts = this.log?.cuts ?? 0;
    this.logPosition = this.log?.keys.length ?? 0;
    this.removalsSeen = this.removals.count;
    // Whole columns at once (a listing may hold 100,000 series), each made by `map` so that it has
    // no holes for V8 to check on every later read.
    this.keys = keys;
    this.entries = keys.map((key) => map[key] as Entry);
    this.fields = keys.map(() => '');
    this.firsts = keys.map(() => NaN);
    this.seconds = keys.map(() => NaN);
    this.setAts = keys.map(() => undefined);
    this.records = keys.map(() => undefined);
    this.flags = keys.map(() => FRESH);
  }

  /** Looks every known series up by key: removed ones leave, replaced ones are read again. */
  private lookUpAll(map: Record<string, unknown>, again: ReadonlySet<string>): void {
    const prune = this.metric.pruneAgedBuckets === true;
    const { keys, entries, fields, firsts, seconds, setAts, records, flags } = this;
    let kept = 0;
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[i];
      let entry = map[key] as Entry | undefined;
      if (entry !== undefined && prune && entry.td?.size() === 0) {
        // As Summary.get() does: a series with nothing in its time window leaves prom-client.
        delete map[key];
        entry = undefined;
      }
      // An entry gone, made again or replaced (a histogram's zero()) leaves with its last numbers.
      if (entry !== entries[i]) this.removed(i);
      if (entry === undefined || again.has(key)) {
        this.hide(i);
        continue;
      }
      if (entry !== entries[i]) flags[i] |= FRESH;
      keys[kept] = key;
      entries[kept] = entry;
      fields[kept] = fields[i];
      firsts[kept] = firsts[i];
      seconds[kept] = seconds[i];
      setAts[kept] = setAts[i];
      records[kept] = records[i];
      flags[kept] = flags[i];
      kept += 1;
    }
    for (const column of [keys, entries, fields, firsts, seconds, setAts, records, flags]) {
      column.length = kept;
    }
  }

  private add(key: string, entry: Entry): void {
    this.keys.push(key);
    this.entries.push(entry);
    this.fields.push('');
    this.firsts.push(NaN);
    this.seconds.push(NaN);
    this.setAts.push(undefined);
    this.records.push(undefined);
    this.flags.push(FRESH);
  }

  /**
   * Gives series with a new entry their own labels copy and their field, at most `limit` of them:
   * `'unfinished'` when some are left.
   */
  private claimFresh(limit: number): 'done' | 'unfinished' | 'unreadable' {
    const { entries, fields, flags } = this;
    let claimed = 0;
    for (let i = this.claimFrom; i < entries.length; i += 1) {
      if ((flags[i] & FRESH) === 0) continue;
      if (claimed === limit) {
        this.claimFrom = i;
        return 'unfinished';
      }
      claimed += 1;
      const entry = entries[i];
      if (!this.wellFormed(entry)) return 'unreadable';
      entry.labels = { ...entry.labels };
      const field = this.builder!.field(entry.labels);
      if (field === undefined) return 'unreadable';
      if (field !== fields[i]) {
        this.hide(i);
        fields[i] = field;
        flags[i] &= ~WRITTEN;
      }
      flags[i] &= ~FRESH;
    }
    // Turns that compare numbers come back here: nothing is left to look at.
    this.claimFrom = entries.length;
    return 'done';
  }

  /**
   * Marks every field to be built again (the metric's name or the default labels changed). Each series
   * counts on from its value under its new field, and remembers the field it left.
   */
  private renameAll(): void {
    for (let i = 0; i < this.keys.length; i += 1) {
      const record = this.records[i];
      if (record === undefined) this.hide(i);
      else this.sink.counters.leave(this.metric, this.entries[i], record);
      this.records[i] = undefined;
      this.fields[i] = '';
      this.flags[i] = FRESH;
    }
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

  /**
   * Writes the series whose numbers (or, for timed gauges, setting call) changed, at most `limit` of
   * them: `'unfinished'` when some series are left to compare.
   */
  private compareNumbers(
    times: ReadonlyMap<string, number> | undefined,
    limit: number,
  ): 'done' | 'unfinished' {
    const { entries, firsts, seconds, setAts, flags, keys } = this;
    let written = 0;
    let i = this.compareFrom;
    switch (this.kind) {
      case 'counter':
        for (; i < entries.length; i += 1) {
          const value = entries[i].value!;
          if ((flags[i] & WRITTEN) !== 0 && same(value, firsts[i])) continue;
          if (written === limit) break;
          written += 1;
          firsts[i] = value;
          this.showCounter(i, `v ${encodeNumber(value)}`);
        }
        break;
      case 'gauge':
        for (; i < entries.length; i += 1) {
          const value = entries[i].value!;
          const setAt = times?.get(keys[i]);
          if ((flags[i] & WRITTEN) !== 0 && same(value, firsts[i]) && setAts[i] === setAt) continue;
          if (written === limit) break;
          written += 1;
          firsts[i] = value;
          setAts[i] = setAt;
          this.showGauge(i, times !== undefined, value, setAt);
        }
        break;
      default:
        for (; i < entries.length; i += 1) {
          const { count, sum } = entries[i] as Required<Pick<Entry, 'count' | 'sum'>>;
          if ((flags[i] & WRITTEN) !== 0 && same(count, firsts[i]) && same(sum, seconds[i])) {
            continue;
          }
          if (written === limit) break;
          written += 1;
          firsts[i] = count;
          seconds[i] = sum;
          this.showCounter(i, this.pack(entries[i], count, sum));
        }
    }
    this.compareFrom = i;
    return i < entries.length ? 'unfinished' : 'done';
  }

  /**
   * Series `i`'s entry left prom-client's map (`remove()`, a summary's empty window, or replaced: made
   * again after a removal, a histogram's `zero()`): its numbers as it left, which may be more than the
   * store acknowledged (counted since the last read, or through an outage), are written before its
   * field is deleted or its new entry's numbers (see `CounterLedger.end`).
   */
  private removed(i: number): void {
    if (this.kind === 'gauge' || (this.flags[i] & SHOWN) === 0) return;
    const entry = this.entries[i];
    const last =
      this.kind === 'counter'
        ? `v ${encodeNumber(entry.value!)}`
        : this.pack(entry, entry.count!, entry.sum!);
    const record = this.records[i]!;
    // With last values still to write, the store will hold the latest of them, not `acked`.
    if (last !== (record.ends?.at(-1) ?? record.acked)) this.sink.counters.end(record, last);
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

  private showCounter(i: number, packed: string): void {
    const { sink, flags } = this;
    const record = this.records[i];
    if (record !== undefined) {
      // Shown already: its record is at hand, no lookup by field.
      sink.counters.update(record, packed);
    } else {
      const size = sink.counters.size;
      this.records[i] = sink.counters.showEntry(
        this.entries[i],
        this.fields[i],
        packed,
        this.mayComeBack,
      );
      this.claimed(sink.counters.size, size);
    }
    flags[i] |= SHOWN | WRITTEN;
  }

  private showGauge(i: number, timed: boolean, value: number, setAt: number | undefined): void {
    const { sink, fields, flags } = this;
    flags[i] |= WRITTEN;
    if (timed && setAt === undefined) {
      // A value this process never set (prom-client's initial 0) does not compete.
      this.hide(i);
      return;
    }
    const field = fields[i];
    const size = sink.gauges.size;
    sink.gauges.set(field, value);
    if ((flags[i] & SHOWN) === 0) this.claimed(sink.gauges.size, size);
    if (setAt === undefined) sink.gaugeTimes.delete(field);
    else sink.gaugeTimes.set(field, setAt);
    if (!sink.all) sink.touched.add(field);
    flags[i] |= SHOWN;
  }

  /**
   * A series began to show its field: the map must have grown. A field in the map belongs to a series
   * of this metric (fields start with the metric's name, unique in a registry), so if it did not grow,
   * two series of this metric show one field. prom-client then shows two samples with the same labels
   * (a labels object changed after the call that took it, or a default label filling a falsy value),
   * and the reference adds their counts (a gauge: keeps the last in prom-client's order): only `get()`
   * gives that exactly.
   */
  private claimed(sizeAfter: number, sizeBefore: number): void {
    if (sizeAfter === sizeBefore) this.shared = true;
  }

  /**
   * Takes a series' field out of the sink, if it shows it (see `CounterLedger.hide`).
   */
  private hide(i: number, keepShown = true): void {
    if ((this.flags[i] & SHOWN) === 0) return;
    const { sink } = this;
    if (this.kind === 'gauge') {
      const field = this.fields[i];
      sink.gauges.delete(field);
      sink.gaugeTimes.delete(field);
      if (!sink.all) sink.touched.add(field);
    } else {
      sink.counters.hide(this.records[i]!, keepShown);
      this.records[i] = undefined;
    }
    this.flags[i] &= ~SHOWN;
  }
}
