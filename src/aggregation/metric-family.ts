import type { Labels, MetricMeta } from '../storage/keys.js';

/** One output sample of a merged metric. */
export interface MetricSample {
  /** Sample name: the metric name, or `<name>_bucket`, `_sum`, `_count`. */
  name: string;
  labels: Labels;
  value: number;
  /** An exemplar to serve with the sample (OpenMetrics only): a counter's or a bucket's latest. */
  exemplar?: SampleExemplar;
}

/** An exemplar of a sample: its labels (e.g. a trace id), value and when it was recorded. */
export interface SampleExemplar {
  labels: Labels;
  value: number;
  /** When it was recorded: ms since the epoch, the store's clock. */
  timestamp: number;
}

/** One merged metric, ready for exposition. */
export interface MetricFamily {
  name: string;
  help: string;
  type: MetricMeta['type'];
  samples: MetricSample[];
}

/** A stable key for a label set (sorted names), to group samples that belong together. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}
