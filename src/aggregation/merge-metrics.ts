import type { Labels, MetricMeta } from '../storage/keys.js';
import { isImpossibleHeartbeat, MAX_HEARTBEAT_AHEAD_MS } from '../storage/heartbeat-bound.js';
import { decodeNumber, isBucketSlot, type PackedSlots } from '../storage/packed-values.js';
import type { Centroid } from '../storage/window-digest.js';
import { declaredGaugeModes } from './declared-gauge-modes.js';
import { gaugeModeRule, type TimedValue } from './gauge-modes.js';
import { mergedQuantiles } from './merge-quantiles.js';
import {
  labelsKey,
  type MetricFamily,
  type MetricSample,
  type SampleExemplar,
} from './metric-family.js';
import type { ExemplarSeries, PrefixData, TotalSeries } from './prefix-data.js';
import { withProcessLabels } from './process-labels.js';
import { totalProblem } from './total-problem.js';
import { validLabelName, validMetricName } from '../prometheus-names.js';
import { latestOfEachPid, type SourcedGauge } from './reused-pids.js';

/** How to merge. */
export interface MergeOptions {
  /** A process is live while its heartbeat is younger than this (ms, the store's clock). */
  livenessWindowMs: number;
  /**
   * `true` (default): histogram buckets cumulative and a `_count` sample, as Prometheus expects.
   * `false`: per-bucket sums that are not cumulative and no `_count`, as Python's prometheus_client
   * `MultiProcessCollector.merge(accumulate=False)`.
   */
  accumulate?: boolean;
}

/** Series key -> what belongs to it beside its totals: windows' centroids, exemplars by `le`. */
type ByKey<T> = Map<string, T>;

/** What a counter-like family's samples carry beside its totals. */
interface Extras {
  /** Summaries: the centroids of every window that counts, per series. */
  windows: ByKey<Centroid[][]> | undefined;
  /** Counters and histograms: the latest exemplar per series and `le` ('' for a counter). */
  exemplars: ByKey<Map<string, SampleExemplar>> | undefined;
}

/**
 * Merges what every process stored under a prefix into one family per metric, with the multiprocess
 * semantics of Prometheus: counters, histograms and summary count/sum come summed from the totals;
 * gauges are merged by their mode (the one its live writers declared last). A summary's quantiles come from the union of the windows of the
 * processes that still hold one (live, or not past the time prom-client would have rotated it out);
 * counters and histogram buckets carry the latest exemplar any process recorded, when the data holds
 * exemplars. Families and samples come out in a stable order. Series that cannot be served right (bad
 * names, non-finite counts, no metadata) are left out and described in `problems`.
 */
export function mergeMetrics(
  data: PrefixData,
  options: MergeOptions,
): { families: MetricFamily[]; problems: string[] } {
  const problems = [...data.problems];
  for (const p of data.processes) {
    if (isImpossibleHeartbeat(p.heartbeat, data.now)) {
      problems.push(
        `process ${p.id}: its heartbeat ${p.heartbeat} is more than ${MAX_HEARTBEAT_AHEAD_MS} ms ahead of the store's clock, not a time of it; counted as not live, and ended at a next write`,
      );
    }
  }
  const live = new Set(
    data.processes
      .filter(
        (p) =>
          data.now - p.heartbeat < options.livenessWindowMs &&
          !isImpossibleHeartbeat(p.heartbeat, data.now),
      )
      .map((p) => p.id),
  );

  const totalsByMetric = groupBy(data.totals, (series) => series.metricName);
  const gaugesByMetric = new Map<string, SourcedGauge[]>();
  for (const process of data.processes) {
    for (const series of data.gauges.get(process.id) ?? []) {
      let list = gaugesByMetric.get(series.metricName);
      if (!list) gaugesByMetric.set(series.metricName, (list = []));
      list.push({ series, process });
    }
  }

  const modes = declaredGaugeModes(data, live);
  const windowsByMetric = countedWindows(data, live);
  const exemplarsByMetric = exemplarsOf(data.exemplars, problems);

  const families: MetricFamily[] = [];
  const names = new Set([...totalsByMetric.keys(), ...gaugesByMetric.keys()]);
  for (const name of [...names].sort()) {
    const meta = data.metadata.get(name);
    if (!meta) {
      problems.push(`series of "${name}" have no metadata`);
      continue;
    }
    if (!validMetricName(name)) {
      problems.push(`"${name}" is not a valid Prometheus metric name`);
      continue;
    }
    const totals = totalsByMetric.get(name) ?? [];
    const gauges = gaugesByMetric.get(name) ?? [];
    // Left by a version where the metric had another type: say what they are and when they go.
    if (meta.type === 'gauge' && totals.length > 0) {
      problems.push(
        `"${name}" is a gauge but has counts of a counter, histogram or summary, left out (a version where it had another type wrote them; deleteCounts("${name}") deletes them)`,
      );
    } else if (meta.type !== 'gauge' && gauges.length > 0) {
      problems.push(
        `"${name}" is a ${meta.type} but processes hold it as a gauge, left out (processes of a version where it was a gauge; their gauges go when they end)`,
      );
    }
    const reserved = RESERVED_LABELS[meta.type];
    const samples =
      meta.type === 'gauge'
        ? mergeGauge(
            name,
            modes.get(name) ?? meta.mode ?? 'all',
            usable(gauges, (g) => g.series, reserved, name, problems),
            live,
            problems,
          )
        : mergeTotals(
            name,
            meta,
            usable(totals, (t) => t, reserved, name, problems),
            options.accumulate ?? true,
            { windows: windowsByMetric.get(name), exemplars: exemplarsByMetric.get(name) },
            problems,
          );
    // A family whose every series was left out is left out too.
    if (samples && samples.length > 0) {
      families.push({ name, help: meta.help, type: meta.type, samples });
    }
  }
  problems.push(...windowsOfOtherTypes(data, windowsByMetric));
  return { families, problems };
}

/**
 * Quantile windows only a summary's series use: one of another metric (written by a version where it
 * was a summary, or in the field of a gauge, whose value it then took) is left out and named here.
 */
function windowsOfOtherTypes(
  data: PrefixData,
  windowsByMetric: Map<string, ByKey<Centroid[][]>>,
): string[] {
  const problems: string[] = [];
  for (const [name, byKey] of windowsByMetric) {
    const type = data.metadata.get(name)?.type;
    if (type === undefined || type === 'summary') continue;
    problems.push(
      `"${name}" is a ${type} but processes hold quantile windows of it (${byKey.size} series), left out (written by processes of a version where it was a summary, which take them along when they end, or by something else)`,
    );
  }
  return problems;
}

/**
 * The windows that count, by metric and series: a live process's (its flushes keep it current), and a
 * process's that stopped writing until the time its window would have rotated out of prom-client.
 */
function countedWindows(data: PrefixData, live: Set<string>): Map<string, ByKey<Centroid[][]>> {
  const byMetric = new Map<string, ByKey<Centroid[][]>>();
  for (const process of data.processes) {
    const current = live.has(process.id);
    for (const series of data.windows.get(process.id) ?? []) {
      if (!current && data.now >= series.digest.expiresAt) continue;
      let byKey = byMetric.get(series.metricName);
      if (!byKey) byMetric.set(series.metricName, (byKey = new Map()));
      let list = byKey.get(series.key);
      if (!list) byKey.set(series.key, (list = []));
      list.push(series.digest.centroids);
    }
  }
  return byMetric;
}

/** The exemplars by metric, series and `le`; those Prometheus would reject are left out. */
function exemplarsOf(
  exemplars: ExemplarSeries[] | undefined,
  problems: string[],
): Map<string, ByKey<Map<string, SampleExemplar>>> {
  const byMetric = new Map<string, ByKey<Map<string, SampleExemplar>>>();
  for (const { metricName, key, le, exemplar } of exemplars ?? []) {
    const bad = Object.keys(exemplar.labels).find((label) => !validLabelName(label));
    if (bad !== undefined || !Number.isFinite(exemplar.value)) {
      problems.push(`an exemplar of "${metricName}" ${key} cannot be served`);
      continue;
    }
    let byKey = byMetric.get(metricName);
    if (!byKey) byMetric.set(metricName, (byKey = new Map()));
    let byLe = byKey.get(key);
    if (!byLe) byKey.set(key, (byLe = new Map()));
    byLe.set(le ?? '', exemplar);
  }
  return byMetric;
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    list.push(item);
  }
  return groups;
}

/** Label names a type's samples get from the exposition itself, so a series may not bring them. */
const RESERVED_LABELS: Record<MetricMeta['type'], ReadonlySet<string>> = {
  counter: new Set(),
  gauge: new Set(),
  histogram: new Set(['le']),
  summary: new Set(['quantile']),
};

/** Leaves out series whose label names Prometheus would reject. */
function usable<T>(
  items: T[],
  seriesOf: (item: T) => { labels: Labels; badLabel: string | undefined },
  reserved: ReadonlySet<string>,
  name: string,
  problems: string[],
): T[] {
  return items.filter((item) => {
    const series = seriesOf(item);
    let bad = series.badLabel;
    if (bad === undefined && reserved.size > 0) {
      bad = Object.keys(series.labels).find((label) => reserved.has(label));
    }
    if (bad === undefined) return true;
    problems.push(`a series of "${name}" has a label name that is not valid here: "${bad}"`);
    return false;
  });
}

function mergeTotals(
  name: string,
  meta: MetricMeta,
  totals: TotalSeries[],
  accumulate: boolean,
  extras: Extras,
  problems: string[],
): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const series of totals.sort(byKey)) {
    const { slots, labels } = series;
    const problem = totalProblem(meta.type, slots, name);
    if (problem !== undefined) {
      problems.push(`"${name}" ${series.key}: ${problem}`);
      continue;
    }
    const exemplars = extras.exemplars?.get(series.key);
    if (meta.type === 'counter') {
      samples.push(withExemplar({ name, labels, value: slots.get('v') ?? 0 }, exemplars?.get('')));
    } else if (meta.type === 'histogram') {
      samples.push(...histogramSamples(name, labels, slots, accumulate, exemplars));
    } else {
      if (meta.percentiles !== undefined) {
        samples.push(
          ...quantileSamples(name, labels, meta.percentiles, extras.windows?.get(series.key)),
        );
      }
      samples.push({ name: `${name}_sum`, labels, value: slots.get('s') ?? 0 });
      samples.push({ name: `${name}_count`, labels, value: slots.get('c') ?? 0 });
    }
  }
  return samples;
}

const byKey = (a: { key: string }, b: { key: string }) => compare(a.key, b.key);

/** A sample with its exemplar, if it has one. */
function withExemplar(sample: MetricSample, exemplar: SampleExemplar | undefined): MetricSample {
  if (exemplar !== undefined) sample.exemplar = exemplar;
  return sample;
}

/** A summary series' quantiles, as prom-client serves them: `{quantile="0.5"}` and so on, in its order. */
function quantileSamples(
  name: string,
  labels: Labels,
  percentiles: readonly number[],
  windows: Centroid[][] | undefined,
): MetricSample[] {
  const values = mergedQuantiles(windows ?? [], percentiles);
  return percentiles.map((p, i) => ({
    name,
    labels: { ...labels, quantile: String(p) },
    value: values[i],
  }));
}

/** A histogram series: its buckets in order of their bound, `_sum`, and `_count` when accumulating. */
function histogramSamples(
  name: string,
  labels: Labels,
  slots: PackedSlots,
  accumulate: boolean,
  exemplars: Map<string, SampleExemplar> | undefined,
): MetricSample[] {
  // Every bound is a number (see totalProblem).
  const bounds = [...slots.keys()].filter(isBucketSlot).sort((a, b) => bound(a) - bound(b));
  const samples: MetricSample[] = [];
  let previous = 0;
  for (const le of bounds) {
    // Stored buckets are cumulative (prom-client's); Python's raw form is the per-bucket difference.
    const cumulative = slots.get(le)!;
    samples.push(
      withExemplar(
        {
          name: `${name}_bucket`,
          labels: { ...labels, le },
          value: accumulate ? cumulative : cumulative - previous,
        },
        exemplars?.get(le),
      ),
    );
    previous = cumulative;
  }
  samples.push({ name: `${name}_sum`, labels, value: slots.get('s') ?? 0 });
  if (accumulate) samples.push({ name: `${name}_count`, labels, value: slots.get('c') ?? 0 });
  return samples;
}

function bound(le: string): number {
  return decodeNumber(le)!;
}

function mergeGauge(
  name: string,
  mode: string,
  gauges: SourcedGauge[],
  live: Set<string>,
  problems: string[],
): MetricSample[] | undefined {
  const rule = gaugeModeRule(mode);
  if (!rule) {
    problems.push(`gauge "${name}" has an unknown mode "${mode}"`);
    return undefined;
  }
  const candidates = gauges.filter(({ process }) => !rule.liveOnly || live.has(process.id));

  if (rule.perProcess) {
    // One series per process: a reused pid's series are its latest process's (latestOfEachPid).
    const shown = latestOfEachPid(candidates);
    const hidden = candidates.length - shown.length;
    const unknown = hidden === 0 ? 0 : candidates.filter((g) => g.process.infoMissing).length;
    const shownUnknown = hidden === 0 ? 0 : shown.filter((g) => g.process.infoMissing).length;
    if (unknown > shownUnknown) {
      problems.push(
        `gauge "${name}": ${unknown - shownUnknown} series of processes without process info left out (each would show pid="0" and hostname="unknown", as the one of the latest heartbeat does)`,
      );
    }
    return sortSamples(
      shown.map(({ series, process }) => ({
        name,
        labels: withProcessLabels(series.labels, String(process.pid), process.hostname),
        value: series.value,
      })),
    );
  }

  const groups = new Map<string, { labels: Labels; values: TimedValue[] }>();
  for (const { series } of latestOfEachPid(candidates, live)) {
    let group = groups.get(series.key);
    if (!group) groups.set(series.key, (group = { labels: series.labels, values: [] }));
    group.values.push({ value: series.value, timestamp: series.timestamp });
  }
  return sortSamples(
    [...groups.values()].map((g) => ({ name, labels: g.labels, value: rule.reduce!(g.values) })),
  );
}

function sortSamples(samples: MetricSample[]): MetricSample[] {
  return samples
    .map((sample) => ({ sample, key: labelsKey(sample.labels) }))
    .sort((a, b) => compare(a.key, b.key))
    .map(({ sample }) => sample);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
