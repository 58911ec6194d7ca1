import type { Registry } from 'prom-client';

import type { MetricMeta } from '../storage/keys.js';
import type { MetricFamily } from './metric-family.js';

/** This process's own registry as metric families: what is served when Redis cannot be read. */
export async function localFamilies(registry: Registry): Promise<MetricFamily[]> {
  return (await registry.getMetricsAsJSON()).map((metric) => ({
    name: metric.name,
    help: metric.help,
    type: String(metric.type) as MetricMeta['type'],
    samples: metric.values.map((sample) => ({
      name: (sample as { metricName?: string }).metricName ?? metric.name,
      labels: Object.fromEntries(
        Object.entries(sample.labels)
          .filter(([, value]) => value !== undefined)
          .map(([name, value]) => [name, String(value)]),
      ),
      value: Number(sample.value),
    })),
  }));
}
