import type { Registry, RegistryContentType } from 'prom-client';

import type { MetricMeta } from '../storage/keys.js';
import { stringLabels } from '../storage/registry-snapshot.js';
import type { MetricFamily, MetricSample, SampleExemplar } from './metric-family.js';

/**
 * This process's own registry as metric families: what is served when storage is off or Redis cannot
 * be read. Exemplars are kept, as prom-client serves them in OpenMetrics.
 */
export async function localFamilies(
  registry: Registry<RegistryContentType>,
): Promise<MetricFamily[]> {
  return (await registry.getMetricsAsJSON()).map((metric) => ({
    name: metric.name,
    help: metric.help,
    type: String(metric.type) as MetricMeta['type'],
    // As prom-client's exposition reads a metric of the app's own: no values is no series, and a
    // sample without a labels object is unlabelled.
    samples: (Array.isArray(metric.values) ? metric.values : []).map((sample) => {
      const local: MetricSample = {
        name: (sample as { metricName?: string }).metricName ?? metric.name,
        labels: stringLabels(sample.labels),
        value: Number(sample.value),
      };
      const exemplar = exemplarOf((sample as { exemplar?: unknown }).exemplar);
      if (exemplar) local.exemplar = exemplar;
      return local;
    }),
  }));
}

/** prom-client's exemplar of a sample (timestamp in seconds), if it holds one. */
function exemplarOf(exemplar: unknown): SampleExemplar | undefined {
  const { labelSet, value, timestamp } = (exemplar ?? {}) as Record<string, unknown>;
  if (typeof labelSet !== 'object' || labelSet === null) return undefined;
  if (typeof value !== 'number' || typeof timestamp !== 'number') return undefined;
  return { labels: stringLabels(labelSet), value, timestamp: Math.round(timestamp * 1000) };
}
