import type { Labels, MetricMeta } from '../storage/keys.js';
import { gaugeModeRule, type TimedValue } from './gauge-modes.js';
import { labelsKey, type MetricFamily, type MetricSample } from './metric-family.js';
import type { PrefixData, ProcessRecord, StoredSeries } from './prefix-data.js';

/** How to merge. */
export interface MergeOptions {
  /** A process is live while its heartbeat is younger than this (ms, Redis server time). */
  livenessWindowMs: number;
  /**
   * `true` (default): histogram buckets cumulative and a `_count` sample, as Prometheus expects.
   * `false`: per-bucket sums that are not cumulative and no `_count`, as Python's prometheus_client
   * `MultiProcessCollector.merge(accumulate=False)`.
   */
  accumulate?: boolean;
}

/** One stored series with the process that wrote it (`undefined` for the archive). */
interface SourcedSeries {
  series: StoredSeries;
  process: ProcessRecord | undefined;
}

/**
 * Merges what every process stored under a prefix into one family per metric, with the multiprocess
 * semantics of Prometheus: counters, histograms and summary count/sum summed over processes and the
 * archive; gauges by their mode. Families and samples come out in a stable order. Series that cannot be
 * merged are left out and described in `problems`.
 */
export function mergeMetrics(
  data: PrefixData,
  options: MergeOptions,
): { families: MetricFamily[]; problems: string[] } {
  const problems = [...data.problems];
  const live = new Set(
    data.processes
      .filter((p) => data.now - p.heartbeat < options.livenessWindowMs)
      .map((p) => p.id),
  );

  const byMetric = new Map<string, SourcedSeries[]>();
  const add = (series: StoredSeries, process: ProcessRecord | undefined) => {
    let list = byMetric.get(series.metricName);
    if (!list) byMetric.set(series.metricName, (list = []));
    list.push({ series, process });
  };
  for (const series of data.archive) add(series, undefined);
  for (const process of data.processes) {
    for (const series of data.values.get(process.id) ?? []) add(series, process);
  }

  const families: MetricFamily[] = [];
  for (const name of [...byMetric.keys()].sort()) {
    const meta = data.metadata.get(name);
    if (!meta) {
      problems.push(`series of "${name}" have no metadata`);
      continue;
    }
    const series = byMetric.get(name)!;
    const samples = mergeFamily(name, meta, series, live, options.accumulate ?? true, problems);
    if (samples) families.push({ name, help: meta.help, type: meta.type, samples });
  }
  return { families, problems };
}

function mergeFamily(
  name: string,
  meta: MetricMeta,
  series: SourcedSeries[],
  live: Set<string>,
  accumulate: boolean,
  problems: string[],
): MetricSample[] | undefined {
  const expected = expectedSampleNames(name, meta.type);
  const usable = series.filter(({ series: s }) => {
    if (expected.has(s.sampleName)) return true;
    problems.push(`"${s.sampleName}" is not a sample of ${meta.type} "${name}"`);
    return false;
  });
  switch (meta.type) {
    case 'counter':
      return sumBySeries(usable);
    case 'gauge':
      return mergeGauge(name, meta.mode ?? 'all', usable, live, problems);
    case 'histogram':
      return mergeHistogram(name, usable, accumulate);
    case 'summary':
      // Quantiles of several processes cannot be merged exactly: only _sum and _count are served.
      return sumBySeries(usable.filter(({ series: s }) => s.sampleName !== name));
  }
}

function expectedSampleNames(name: string, type: MetricMeta['type']): Set<string> {
  if (type === 'histogram') return new Set([`${name}_bucket`, `${name}_sum`, `${name}_count`]);
  if (type === 'summary') return new Set([name, `${name}_sum`, `${name}_count`]);
  return new Set([name]);
}

/** Sums values per sample name and label set, in a stable order. */
function sumBySeries(series: SourcedSeries[]): MetricSample[] {
  const sums = new Map<string, MetricSample>();
  for (const { series: s } of series) {
    const sample = sums.get(s.key);
    if (sample) sample.value += s.value;
    else sums.set(s.key, { name: s.sampleName, labels: s.labels, value: s.value });
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

function mergeGauge(
  name: string,
  mode: string,
  series: SourcedSeries[],
  live: Set<string>,
  problems: string[],
): MetricSample[] | undefined {
  const rule = gaugeModeRule(mode);
  if (!rule) {
    problems.push(`gauge "${name}" has an unknown mode "${mode}"`);
    return undefined;
  }
  const taking = series.filter(
    ({ process }) => process && (!rule.liveOnly || live.has(process.id)),
  );

  if (rule.perProcess) {
    // One series per process. A pid reused on the same host (a restarted container) would repeat a
    // label set: the process with the latest heartbeat owns it, as a reused pid owns its file in Python.
    const newest = new Map<string, { labels: Labels; value: number; heartbeat: number }>();
    for (const { series: s, process } of taking) {
      const labels = { ...s.labels, pid: String(process!.pid), hostname: process!.hostname };
      const key = labelsKey(labels);
      const held = newest.get(key);
      if (!held || held.heartbeat < process!.heartbeat) {
        newest.set(key, { labels, value: s.value, heartbeat: process!.heartbeat });
      }
    }
    return sortSamples(
      [...newest.values()].map((s) => ({ name, labels: s.labels, value: s.value })),
    );
  }

  const groups = new Map<string, { labels: Labels; values: TimedValue[] }>();
  for (const { series: s } of taking) {
    let group = groups.get(s.key);
    if (!group) groups.set(s.key, (group = { labels: s.labels, values: [] }));
    group.values.push({ value: s.value, timestamp: s.timestamp });
  }
  return sortSamples(
    [...groups.values()].map((g) => ({ name, labels: g.labels, value: rule.reduce!(g.values) })),
  );
}

function mergeHistogram(
  name: string,
  series: SourcedSeries[],
  accumulate: boolean,
): MetricSample[] {
  interface Group {
    labels: Labels;
    buckets: Map<string, number>;
    sum: number;
  }
  const groups = new Map<string, Group>();
  // Each series's group (its labels without `le`) is worked out once, not once per process.
  const groupOf = new Map<string, { group: Group; le: string | undefined }>();
  for (const { series: s } of series) {
    let known = groupOf.get(s.key);
    if (!known) {
      const { le, ...labels } = s.labels;
      const key = labelsKey(labels);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { labels, buckets: new Map(), sum: 0 }));
      groupOf.set(s.key, (known = { group, le }));
    }
    const { group, le } = known;
    if (s.sampleName === `${name}_bucket` && le !== undefined) {
      group.buckets.set(le, (group.buckets.get(le) ?? 0) + s.value);
    } else if (s.sampleName === `${name}_sum`) {
      group.sum += s.value;
    }
    // _count is not read: it equals the +Inf bucket, from which it is derived below (as Python does).
  }

  const samples: MetricSample[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    const bounds = [...group.buckets.keys()].sort((a, b) => bound(a) - bound(b));
    let previous = 0;
    for (const le of bounds) {
      // Stored buckets are cumulative (prom-client's); Python's raw form is the per-bucket difference.
      const cumulative = group.buckets.get(le)!;
      const value = accumulate ? cumulative : cumulative - previous;
      previous = cumulative;
      samples.push({ name: `${name}_bucket`, labels: { ...group.labels, le }, value });
    }
    samples.push({ name: `${name}_sum`, labels: group.labels, value: group.sum });
    if (accumulate) {
      samples.push({
        name: `${name}_count`,
        labels: group.labels,
        value: group.buckets.get('+Inf') ?? 0,
      });
    }
  }
  return samples;
}

function bound(le: string): number {
  return le === '+Inf' ? Infinity : Number(le);
}

function sortSamples(samples: MetricSample[]): MetricSample[] {
  return samples
    .map((sample) => ({ sample, key: labelsKey(sample.labels) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ sample }) => sample);
}
