import { setImmediate as nextTurn } from 'node:timers/promises';

import {
  Counter,
  Gauge,
  Histogram,
  Summary,
  type Metric,
  type Registry,
  type RegistryContentType,
} from 'prom-client';

import { CounterLedger } from './counter-ledger.js';
import { gaugeCallTimes, isTimedGaugeMode, type ObservedGauge } from './gauge-call-times.js';
import type { MetricMeta } from './keys.js';
import {
  MetricSeriesTable,
  type SeriesSink,
  type TableKind,
  type TableMetric,
} from './metric-series-table.js';
import { onRegistration } from './registry-registrations.js';
import {
  addSeries,
  applyDefaultLabels,
  type GaugeModeResolver,
  type RegistrySnapshot,
} from './registry-snapshot.js';

/** What a registry holds, kept up to date by a {@link RegistryReader}. */
export interface RegistryView extends Omit<RegistrySnapshot, 'counters'> {
  /**
   * Counter, histogram and summary series: field -> packed value as a read-only map, with what the
   * store acknowledged of each and the series that changed (see counter-ledger.ts).
   */
  counters: CounterLedger;
  /**
   * Gauges of a timed mode (`mostrecent`, `livemostrecent`): series field -> local time (ms,
   * `performance.now()`) of the call that set the value. Their series that this process never set are
   * not in `gauges`.
   */
  gaugeTimes: Map<string, number>;
}

type AnyMetric = Metric & { name: string; help: string; type?: string };

/** The prom-client classes whose per-series state is read directly, with the methods that must be theirs. */
const KNOWN: [TableKind, { prototype: object }, string[]][] = [
  ['counter', Counter, ['get']],
  ['gauge', Gauge, ['get']],
  ['histogram', Histogram, ['get', 'getForPromString']],
  ['summary', Summary, ['get']],
];

/**
 * The kind of table that can read a metric, or `undefined`: another class, another copy of
 * prom-client, or a subclass with its own `get()` must be read through `get()`.
 */
function tableKind(metric: AnyMetric): TableKind | undefined {
  for (const [kind, type, methods] of KNOWN) {
    if (!(metric instanceof (type as unknown as new () => object))) continue;
    const own = type.prototype as Record<string, unknown>;
    const actual = metric as unknown as Record<string, unknown>;
    const untouched = methods.every((method) => actual[method] === own[method]);
    return untouched && metric.type === kind ? kind : undefined;
  }
  return undefined;
}

/** A metric read through `get()`, and the fields it showed last. */
interface GenericRead {
  gauges: Set<string>;
  counters: Set<string>;
}

/**
 * Reads a prom-client registry into a {@link RegistryView} and tells which series changed since the
 * last read: exactly what `registry.getMetricsAsJSON()` shows (the reference, `snapshotRegistry`),
 * at a cost that grows with what changed rather than with what is held.
 *
 * Every read lists the registry's metrics (so metrics made with a plain `new Counter()` and metrics
 * added after start-up are seen) and runs their `collect` callbacks as `get()` does. Counters, gauges,
 * histograms and summaries of this prom-client are then read from their per-series state through a
 * {@link MetricSeriesTable}; any other metric object through its own `get()`, converted as the
 * reference converts it. Gauges of a timed mode have their setting calls observed (see
 * gauge-call-times.ts), from their registration on when the mode is known by then.
 */
export class RegistryReader {
  readonly view: RegistryView = {
    metadata: new Map(),
    gauges: new Map(),
    gaugeTimes: new Map(),
    counters: new CounterLedger(),
  };
  private readonly tables = new Map<object, MetricSeriesTable>();
  private readonly generic = new Map<object, GenericRead>();
  /** The name each metric was first read with (see {@link storedName}). */
  private readonly names = new WeakMap<object, string>();
  /** The default labels as last read, and the object handed to tables (new when they changed). */
  private defaultsSeen: Record<string, unknown> = {};
  private defaults: Readonly<Record<string, unknown>> = {};
  private unlisten: (() => void) | undefined;
  /** Whether this read runs the metrics' `collect` callbacks (see {@link read}). */
  private collecting = true;
  /** A read that failed had listed a metric anew: the next read must report it. */
  private allOwed = false;

  constructor(
    private readonly registry: Registry<RegistryContentType>,
    private readonly gaugeModeOf: GaugeModeResolver,
  ) {
    this.listen();
  }

  /**
   * Brings the view up to date and adds to `touched` every field whose gauge entry was set, changed
   * or removed; counter-like series that changed are listed in `view.counters.changed`. Resolves
   * `true` when a whole metric was listed anew (a first read, a `reset()`): then any gauge may have
   * changed and `touched` was not kept up for it. Rejects as
   * `getMetricsAsJSON()` does when a `collect` callback throws. With `collect: false` the `collect`
   * callbacks of prom-client's own metric classes do not run (their last values are read); metrics
   * read through `get()` run theirs anyway.
   */
  async read(
    touched: Set<string>,
    { collect = true }: { collect?: boolean } = {},
  ): Promise<boolean> {
    this.listen();
    this.collecting = collect;
    const sink: SeriesSink = { ...this.view, touched, all: false };
    const defaults = this.currentDefaults();
    const metrics = this.registry.getMetricsAsArray() as unknown as AnyMetric[];
    const present = new Set<object>(metrics);
    for (const [metric, table] of this.tables) {
      if (present.has(metric)) continue;
      table.retire(sink);
      this.tables.delete(metric);
    }
    for (const metric of this.generic.keys()) {
      if (!present.has(metric)) this.dropGeneric(metric, sink);
    }
    this.view.metadata.clear();
    const reads = metrics.map((metric) => this.readMetric(metric, defaults, sink));
    const outcomes = await Promise.allSettled(reads);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    // A failed read still listed what it listed: the next read says so.
    const all = sink.all || this.allOwed;
    this.allOwed = failure !== undefined && all;
    if (failure) throw (failure as PromiseRejectedResult).reason;
    return all;
  }

  /** Stops hearing new registrations (the next read starts again). */
  close(): void {
    this.unlisten?.();
    this.unlisten = undefined;
  }

  private listen(): void {
    if (this.unlisten) return;
    // A gauge whose timed mode is known when it is registered is observed from its first call.
    this.unlisten = onRegistration(this.registry, (metric) => {
      const gauge = metric as AnyMetric;
      if (gauge instanceof Gauge && isTimedGaugeMode(this.gaugeModeOf(gauge.name))) {
        gaugeCallTimes(gauge as unknown as ObservedGauge);
      }
    });
  }

  /** The registry's default labels; a new object only when they changed since the last read. */
  private currentDefaults(): Readonly<Record<string, unknown>> {
    const current = (this.registry as unknown as { _defaultLabels?: Record<string, unknown> })
      ._defaultLabels;
    const labels = current !== null && typeof current === 'object' ? current : {};
    const seen = this.defaultsSeen;
    const names = Object.keys(labels);
    const unchanged =
      names.length === Object.keys(seen).length &&
      names.every((name) => Object.hasOwn(seen, name) && seen[name] === labels[name]);
    if (!unchanged) {
      this.defaultsSeen = { ...labels };
      this.defaults = { ...labels };
    }
    return this.defaults;
  }

  private async readMetric(
    metric: AnyMetric,
    defaults: Readonly<Record<string, unknown>>,
    sink: SeriesSink,
  ): Promise<void> {
    const kind = this.generic.has(metric) ? undefined : tableKind(metric);
    if (kind === undefined) {
      this.tables.get(metric)?.drop(sink);
      this.tables.delete(metric);
      return this.readGeneric(metric, defaults, sink);
    }
    const name = this.storedName(metric, kind, metric.name);
    const meta: MetricMeta = { type: kind, help: metric.help };
    const mode = kind === 'gauge' ? this.gaugeModeOf(name) : undefined;
    if (mode !== undefined) meta.mode = mode;
    this.view.metadata.set(name, meta);

    // As get() does: the metric's collect callback first (unless this read skips them).
    const collect = (metric as { collect?: () => unknown }).collect;
    if (this.collecting && typeof collect === 'function') {
      const result = collect.call(metric);
      if (result instanceof Promise) await result;
    }
    let table = this.tables.get(metric);
    if (!table) {
      table = new MetricSeriesTable(metric as unknown as TableMetric, kind);
      this.tables.set(metric, table);
    }
    const times = isTimedGaugeMode(mode)
      ? gaugeCallTimes(metric as unknown as ObservedGauge)
      : undefined;
    let outcome = table.read(name, sink, defaults, times);
    while (outcome === 'unfinished') {
      // A large read (a first one, one after a reset, one with many changes) lets requests in between
      // its turns. The promise form of setImmediate: a test's fake timers, which replace the global
      // one, cannot hold it.
      await nextTurn();
      outcome = table.resume();
    }
    if (outcome === 'read') return;
    // Not readable from its state (see MetricSeriesTable): through get() from now on. What the table
    // showed may be one of two series on a field: get() shows the field again, nothing of it is kept.
    table.drop(sink, false);
    this.tables.delete(metric);
    this.generic.set(metric, { gauges: new Set(), counters: new Set() });
    const converted = this.convert(metric, defaults, { ...(await metric.get()), name });
    this.showGeneric(metric, converted, sink);
  }

  /** A metric read the reference way: `get()`, default labels merged, then `snapshotRegistry`'s rules. */
  private async readGeneric(
    metric: AnyMetric,
    defaults: Readonly<Record<string, unknown>>,
    sink: SeriesSink,
  ): Promise<void> {
    const item = await metric.get();
    const type = String(item.type) as MetricMeta['type'];
    const name = this.storedName(metric, type, item.name);
    const meta: MetricMeta = { type, help: item.help };
    if (type === 'gauge') meta.mode = this.gaugeModeOf(name);
    this.view.metadata.set(name, meta);
    this.showGeneric(metric, this.convert(metric, defaults, { ...item, name }), sink);
  }

  /**
   * The name a metric's series are stored under: its name, except that a counter keeps the name it was
   * first read with when that name is its name and `_total`. prom-client's `metrics()` of an OpenMetrics
   * registry strips `_total` from the Counter object itself, for good: the same series under a second
   * name would count again from zero what the first name's totals already hold.
   */
  private storedName(metric: object, type: string, name: string): string {
    const first = this.names.get(metric);
    if (type === 'counter' && first === `${name}_total`) return first;
    this.names.set(metric, name);
    return name;
  }

  private convert(
    metric: AnyMetric,
    defaults: Readonly<Record<string, unknown>>,
    item: Awaited<ReturnType<Metric['get']>>,
  ): Pick<RegistrySnapshot, 'gauges' | 'counters'> {
    if (!this.generic.has(metric))
      this.generic.set(metric, { gauges: new Set(), counters: new Set() });
    const withDefaults =
      Array.isArray(item.values) && Object.keys(defaults).length > 0
        ? item.values.map((value) => ({
            ...value,
            labels: applyDefaultLabels(value.labels, defaults),
          }))
        : item.values;
    const converted = { gauges: new Map<string, number>(), counters: new Map<string, string>() };
    addSeries(
      converted,
      { name: item.name, values: withDefaults as typeof item.values },
      String(item.type) as MetricMeta['type'],
    );
    return converted;
  }

  /** Writes what a metric read through get() shows, and takes out what it no longer shows. */
  private showGeneric(
    metric: object,
    converted: Pick<RegistrySnapshot, 'gauges' | 'counters'>,
    sink: SeriesSink,
  ): void {
    const last = this.generic.get(metric)!;
    for (const field of last.gauges) {
      if (converted.gauges.has(field)) continue;
      sink.gauges.delete(field);
      sink.gaugeTimes.delete(field);
      sink.touched.add(field);
    }
    for (const field of last.counters) {
      if (!converted.counters.has(field)) sink.counters.hideField(field);
    }
    for (const [field, value] of converted.gauges) {
      if (!Object.is(sink.gauges.get(field), value)) sink.touched.add(field);
      sink.gauges.set(field, value);
    }
    for (const [field, packed] of converted.counters) {
      if (sink.counters.get(field) !== packed) sink.counters.show(field, packed);
    }
    last.gauges = new Set(converted.gauges.keys());
    last.counters = new Set(converted.counters.keys());
  }

  private dropGeneric(metric: object, sink: SeriesSink): void {
    this.showGeneric(metric, { gauges: new Map(), counters: new Map() }, sink);
    this.generic.delete(metric);
  }
}
