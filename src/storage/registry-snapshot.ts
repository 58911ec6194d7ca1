import type {
  MetricObjectWithValues,
  MetricValue,
  Registry,
  RegistryContentType,
} from 'prom-client';

import type { GaugeMode } from '../redis-metrics.options.js';
import { seriesField, type Labels, type MetricMeta } from './keys.js';
import { encodePacked } from './packed-values.js';

/** Every series of a registry at one moment, in the form the store keeps them. */
export interface RegistrySnapshot {
  /** Metric name -> metadata. */
  metadata: Map<string, MetricMeta>;
  /** Gauge series field -> value. */
  gauges: Map<string, number>;
  /** Counter, histogram and summary series field -> packed absolute value (see packed-values.ts). */
  counters: Map<string, string>;
}

/** Picks the multiprocess mode of a gauge by its name. */
export type GaugeModeResolver = (metricName: string) => GaugeMode;

/**
 * Reads every metric of a prom-client registry through `getMetricsAsJSON()` (its `collect` callbacks
 * run, default labels included): exactly what prom-client itself exposes. A histogram's buckets, sum
 * and count become one packed series per label set; of a summary only `_sum` and `_count` are kept.
 */
export async function snapshotRegistry(
  registry: Registry<RegistryContentType>,
  gaugeModeOf: GaugeModeResolver,
): Promise<RegistrySnapshot> {
  const snapshot: RegistrySnapshot = {
    metadata: new Map(),
    gauges: new Map(),
    counters: new Map(),
  };
  for (const metric of await registry.getMetricsAsJSON()) {
    const type = String(metric.type) as MetricMeta['type'];
    const meta: MetricMeta = { type, help: metric.help };
    if (type === 'gauge') meta.mode = gaugeModeOf(metric.name);
    snapshot.metadata.set(metric.name, meta);
    addSeries(snapshot, metric, type);
  }
  return snapshot;
}

type Sample = MetricValue<string> & { metricName?: string };

/**
 * Adds the series of one metric, as `getMetricsAsJSON()` returns it, to a snapshot's gauges or
 * counters (the reference conversion; the registry reader uses it for metrics it cannot read itself).
 */
export function addSeries(
  snapshot: Pick<RegistrySnapshot, 'gauges' | 'counters'>,
  metric: Pick<MetricObjectWithValues<MetricValue<string>>, 'name' | 'values'>,
  type: MetricMeta['type'],
): void {
  const name = metric.name;
  // As prom-client's exposition reads them (`metric.values || []`, a sample's `labels = {}`): a metric
  // of the app's own whose `get()` leaves out its values, or a sample its labels, is a metric without
  // series or an unlabelled series, and never fails the read (and with it every flush of the process).
  const values: readonly MetricValue<string>[] = Array.isArray(metric.values) ? metric.values : [];
  // Two of prom-client's series can show one label set (a default label filling a falsy value, or
  // given by one and left out by the other): a counter-like field then holds what both counted, as
  // prom-client's AggregatorRegistry adds them; a gauge keeps the last.
  if (type === 'counter' || type === 'gauge') {
    const counts = new Map<string, number>();
    for (const sample of values) {
      const field = seriesField(name, stringLabels(sample.labels));
      const value = Number(sample.value);
      if (type === 'gauge') snapshot.gauges.set(field, value);
      else counts.set(field, (counts.get(field) ?? 0) + value);
    }
    for (const [field, value] of counts) snapshot.counters.set(field, encodePacked([['v', value]]));
    return;
  }
  // Histograms and summaries: gather each label set's samples into one series.
  const groups = new Map<string, { slots: Map<string, number>; count: number; sum: number }>();
  for (const sample of values as Sample[]) {
    const sampleName = sample.metricName ?? name;
    // Summary quantiles are not counter-like: a sum of quantiles is no quantile.
    if (sampleName === name) continue;
    const { le, ...labels } = stringLabels(sample.labels);
    const field = seriesField(name, labels);
    let group = groups.get(field);
    if (!group) groups.set(field, (group = { slots: new Map(), count: 0, sum: 0 }));
    const value = Number(sample.value);
    if (sampleName === `${name}_count`) group.count += value;
    else if (sampleName === `${name}_sum`) group.sum += value;
    else if (sampleName === `${name}_bucket` && le !== undefined) {
      group.slots.set(le, (group.slots.get(le) ?? 0) + value);
    }
  }
  for (const [field, { slots, count, sum }] of groups) {
    snapshot.counters.set(
      field,
      encodePacked([['c', count], ['s', sum], ...(type === 'histogram' ? slots : [])]),
    );
  }
}

/**
 * A copy of a sample's labels with the registry's default labels merged in, as `getMetricsAsJSON()`
 * merges them: a default fills a label that is missing or falsy.
 */
export function applyDefaultLabels(
  labels: Readonly<Record<string, unknown>>,
  defaults: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = Object.assign({}, labels);
  for (const name of Object.keys(defaults)) merged[name] = merged[name] || defaults[name];
  return merged;
}

/**
 * Label values as strings, undefined ones left out (prom-client's JSON may hold numbers). A sample
 * without a labels object (a metric of the app's own) has none, as prom-client prints it.
 */
export function stringLabels(labels: object | null | undefined): Labels {
  const result: Labels = {};
  if (typeof labels !== 'object' || labels === null) return result;
  for (const [name, value] of Object.entries(labels)) {
    if (value !== undefined) result[name] = String(value);
  }
  return result;
}
