import {
  Counter,
  Gauge,
  Histogram,
  Summary,
  type Metric,
  type Registry,
  type RegistryContentType,
} from 'prom-client';

import { RedisMetricsConfigError } from '../errors.js';

/** The four kinds of metric `RedisMetricsService` makes. */
export type MetricKind = 'counter' | 'gauge' | 'histogram' | 'summary';

/** What a caller asks a metric name to be. */
export interface WantedMetric {
  kind: MetricKind;
  labelNames?: readonly string[];
  /** A histogram's buckets, when the caller gave them (none: whatever the shared one has). */
  buckets?: readonly number[];
  /** A summary's percentiles, when the caller gave them. */
  percentiles?: readonly number[];
}

function kindOf(metric: Metric): MetricKind | undefined {
  if (metric instanceof Counter) return 'counter';
  if (metric instanceof Gauge) return 'gauge';
  if (metric instanceof Histogram) return 'histogram';
  if (metric instanceof Summary) return 'summary';
  return undefined;
}

/**
 * @internal The error of {@link existingMetric}, with what the registry holds and what was asked for
 * apart, so that a caller that made the metric for the module can say so in its own error.
 */
export class MetricClashError extends RedisMetricsConfigError {
  constructor(
    setting: string,
    problem: string,
    /** What the registry holds: `counter with labelNames [...]`. */
    readonly exists: string,
    /** What was asked for, in the same words. */
    readonly asked: string,
  ) {
    super(setting, problem);
  }
}

/** Label names as a message shows them, sorted (prom-client takes labels by name, not position). */
function shownLabels(labelNames: readonly string[] | undefined): string {
  return JSON.stringify([...(labelNames ?? [])].sort());
}

/**
 * What a shared histogram or summary was made with that the caller asked otherwise: prom-client would
 * silently keep the first, observing into buckets (or serving percentiles) the caller did not ask for.
 */
function otherShape(
  name: string,
  metric: Metric,
  wanted: WantedMetric,
): MetricClashError | undefined {
  const shapes = {
    histogram: [
      'buckets',
      (metric as { upperBounds?: readonly number[] }).upperBounds,
      wanted.buckets,
    ],
    summary: [
      'percentiles',
      (metric as { percentiles?: readonly number[] }).percentiles,
      wanted.percentiles,
    ],
  } as const;
  if (wanted.kind !== 'histogram' && wanted.kind !== 'summary') return undefined;
  const [setting, held, asked] = shapes[wanted.kind];
  if (asked === undefined || held === undefined) return undefined;
  if (JSON.stringify(held) === JSON.stringify(asked)) return undefined;
  const exists = `${wanted.kind} with ${setting} ${JSON.stringify(held)}`;
  return new MetricClashError(
    `metric "${name}"`,
    `is a ${exists} in the registry, but was asked for with ${setting} ${JSON.stringify(asked)}: ask with the same ${setting} (or none) to share it, or give the other metric its own name`,
    exists,
    `${wanted.kind} with ${setting} ${JSON.stringify(asked)}`,
  );
}

/**
 * The metric the registry already holds under `name`, if it is the kind and has the label names asked
 * for: feature modules share a metric by asking for it by name. Another kind or other label names would
 * fail later, at the first `inc()` or `set()`, with an error that names neither metric; it fails here,
 * and so do a histogram's other buckets or a summary's other percentiles, which would never fail.
 * @throws MetricClashError (a RedisMetricsConfigError) naming the metric, what exists and what was asked.
 */
export function existingMetric<M extends Metric>(
  registry: Registry<RegistryContentType>,
  name: string,
  wanted: WantedMetric,
): M | undefined {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const kind = kindOf(metric);
  const labelNames = (metric as { labelNames?: readonly string[] }).labelNames;
  if (kind === wanted.kind && shownLabels(labelNames) === shownLabels(wanted.labelNames)) {
    const clash = otherShape(name, metric, wanted);
    if (clash !== undefined) throw clash;
    return metric as M;
  }
  const exists = `${kind === undefined ? 'metric of another kind' : kind} with labelNames ${shownLabels(labelNames)}`;
  const asked = `${wanted.kind} with labelNames ${shownLabels(wanted.labelNames)}`;
  throw new MetricClashError(
    `metric "${name}"`,
    `is a ${exists} in the registry, but was asked for as a ${asked}: ask with the same type and labelNames to share it, or give the other metric its own name`,
    exists,
    asked,
  );
}
