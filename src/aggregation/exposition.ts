import { Registry, type Metric } from 'prom-client';

import type { MetricFamily } from './metric-family.js';
import { openMetricsFamilies } from './openmetrics-families.js';
import { escapeQuotesInHelp } from './openmetrics-help.js';
import { renderTextFormat } from './text-format.js';

/** Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
/** OpenMetrics text format 1.0.0. */
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

/** Either exposition format prom-client writes. */
export type ExpositionContentType =
  typeof PROMETHEUS_CONTENT_TYPE | typeof OPENMETRICS_CONTENT_TYPE;

/**
 * A prom-client registry that serves merged families, so the text comes from prom-client's own
 * formatter (escaping, `# TYPE`/`# HELP`, OpenMetrics `_total` and `# EOF`) rather than one of ours.
 * For OpenMetrics, counters that are one family there are served as one (see
 * {@link openMetricsFamilies}).
 */
export function familiesToRegistry(
  families: MetricFamily[],
  contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE,
): Registry<ExpositionContentType> {
  return registryOf(
    contentType === OPENMETRICS_CONTENT_TYPE ? openMetricsFamilies(families) : families,
    contentType,
  );
}

function registryOf(
  families: MetricFamily[],
  contentType: ExpositionContentType,
): Registry<ExpositionContentType> {
  const registry = new Registry<ExpositionContentType>();
  registry.setContentType(contentType);
  for (const family of families) registry.registerMetric(asPromClientMetric(family));
  return registry;
}

/**
 * Renders merged families as exposition text: the text format 0.0.4 by {@link renderTextFormat} (the
 * same bytes as prom-client, faster), OpenMetrics by prom-client's registry, with the quotes of help
 * texts escaped as OpenMetrics requires (prom-client leaves them bare), and counters that are one
 * family there served as one (see {@link openMetricsFamilies}).
 */
export async function renderFamilies(
  families: MetricFamily[],
  contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE,
): Promise<string> {
  if (contentType === PROMETHEUS_CONTENT_TYPE) return renderTextFormat(families);
  const served = openMetricsFamilies(families);
  // prom-client writes no family as a blank line before `# EOF`, which OpenMetrics forbids: Prometheus
  // marks such a target down ("\n" is not a valid start token) until some series has a value.
  if (served.length === 0) return '# EOF\n';
  return escapeQuotesInHelp(await registryOf(served, contentType).metrics(), served);
}

/** A read-only stand-in with the shape prom-client's registry reads from a metric. */
function asPromClientMetric(family: MetricFamily): Metric {
  const values = family.samples.map((sample) => ({
    // A sample named like its metric leaves metricName out, so OpenMetrics can add `_total` to counters.
    ...(sample.name === family.name ? {} : { metricName: sample.name }),
    labels: sample.labels,
    value: sample.value,
    // prom-client prints an exemplar in OpenMetrics only, its timestamp in seconds.
    ...(sample.exemplar === undefined
      ? {}
      : {
          exemplar: {
            labelSet: sample.exemplar.labels,
            value: sample.exemplar.value,
            timestamp: sample.exemplar.timestamp / 1000,
          },
        }),
  }));
  const metric = {
    name: family.name,
    help: family.help,
    type: family.type,
    aggregator: 'sum',
    get: async () => ({
      name: metric.name,
      help: family.help,
      type: family.type,
      values,
      aggregator: 'sum',
    }),
    reset: () => undefined,
  };
  return metric as unknown as Metric;
}
