import { Inject, type Provider } from '@nestjs/common';
import type {
  CounterConfiguration,
  HistogramConfiguration,
  Metric,
  SummaryConfiguration,
} from 'prom-client';

import { RedisMetricsService, type RedisGaugeConfiguration } from '../redis-metrics.service.js';

/** The injection token of a metric made by one of the `make*Provider` functions. */
export function getMetricToken(name: string): string {
  return `PROM_METRIC_${name.toUpperCase()}`;
}

/**
 * Injects a metric made by `makeCounterProvider` and friends, by name: the API of
 * @willsoto/nestjs-prometheus, so an app moves over by changing its imports.
 */
export function InjectMetric(name: string): PropertyDecorator & ParameterDecorator {
  return Inject(getMetricToken(name));
}

type WithoutRegisters<C> = Omit<C, 'registers'>;

function makeProvider(name: string, create: (metrics: RedisMetricsService) => Metric): Provider {
  return { provide: getMetricToken(name), useFactory: create, inject: [RedisMetricsService] };
}

/** Provides a counter in the module's registry; inject it with `@InjectMetric(name)`. */
export function makeCounterProvider(
  config: WithoutRegisters<CounterConfiguration<string>>,
): Provider {
  return makeProvider(config.name, (metrics) => metrics.counter(config));
}

/** Provides a gauge in the module's registry, aggregated across processes by `multiprocessMode`. */
export function makeGaugeProvider(
  config: WithoutRegisters<RedisGaugeConfiguration<string>>,
): Provider {
  return makeProvider(config.name, (metrics) => metrics.gauge(config));
}

/** Provides a histogram in the module's registry. */
export function makeHistogramProvider(
  config: WithoutRegisters<HistogramConfiguration<string>>,
): Provider {
  return makeProvider(config.name, (metrics) => metrics.histogram(config));
}

/** Provides a summary in the module's registry (only `_count` and `_sum` are merged across processes). */
export function makeSummaryProvider(
  config: WithoutRegisters<SummaryConfiguration<string>>,
): Provider {
  return makeProvider(config.name, (metrics) => metrics.summary(config));
}
