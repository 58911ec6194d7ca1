import type { Registry } from 'prom-client';

import type { GaugeMode } from '../redis-metrics.options.js';
import { seriesField, type Labels, type MetricMeta } from './keys.js';

/** Every series of a registry at one moment, ready to be compared with what was written before. */
export interface RegistrySnapshot {
  /** Series field -> value. */
  series: Map<string, number>;
  /** Metric name -> metadata. */
  metadata: Map<string, MetricMeta>;
  /** Fields of series that may be removed from Redis when they vanish from the registry. */
  removable: Set<string>;
}

/** Picks the multiprocess mode of a gauge by its name. */
export type GaugeModeResolver = (metricName: string) => GaugeMode;

/**
 * Reads every metric of a prom-client registry (its `collect` callbacks run, default labels included).
 * Gauges and summary quantiles are removable: when prom-client drops such a series, the stored one goes
 * too. Counter-like series stay until the process ends, so an aggregated counter never goes down.
 */
export async function snapshotRegistry(
  registry: Registry,
  gaugeModeOf: GaugeModeResolver,
): Promise<RegistrySnapshot> {
  const snapshot: RegistrySnapshot = {
    series: new Map(),
    metadata: new Map(),
    removable: new Set(),
  };
  for (const metric of await registry.getMetricsAsJSON()) {
    const type = String(metric.type) as MetricMeta['type'];
    const meta: MetricMeta = { type, help: metric.help };
    if (type === 'gauge') meta.mode = gaugeModeOf(metric.name);
    snapshot.metadata.set(metric.name, meta);

    for (const sample of metric.values) {
      const sampleName = (sample as { metricName?: string }).metricName ?? metric.name;
      const field = seriesField(metric.name, sampleName, stringLabels(sample.labels));
      snapshot.series.set(field, Number(sample.value));
      const isQuantile = type === 'summary' && sampleName === metric.name;
      if (type === 'gauge' || isQuantile) snapshot.removable.add(field);
    }
  }
  return snapshot;
}

function stringLabels(labels: object): Labels {
  const result: Labels = {};
  for (const [name, value] of Object.entries(labels)) {
    if (value !== undefined) result[name] = String(value);
  }
  return result;
}
