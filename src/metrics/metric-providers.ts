import {
  Inject,
  type InjectionToken,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import type {
  Counter,
  CounterConfiguration,
  Gauge,
  Histogram,
  HistogramConfiguration,
  Metric,
  Summary,
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

/**
 * What a metric provider may add to the metric's configuration: providers to `inject`, handed in that
 * order to `collect`, which prom-client runs before each read of the metric (each flush and scrape),
 * with `this` the metric.
 *
 * @example
 * makeGaugeProvider({
 *   name: 'queue_depth',
 *   help: 'Jobs waiting',
 *   inject: [QueueService],
 *   collect(this: Gauge, queue: QueueService) { this.set(queue.depth()); },
 * })
 */
export interface MetricProviderInjectable<M> {
  /** Providers handed to `collect`, in this order. */
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /** Runs before each read of the metric; `this` is the metric. */
  collect?: (this: M, ...injected: never[]) => void | Promise<void>;
}

/** A metric's configuration for a provider: no `registers` (the module's registry) and an injectable `collect`. */
export type MetricProviderConfiguration<C, M> = Omit<C, 'registers' | 'collect'> &
  MetricProviderInjectable<M>;

/** Makes the provider of one metric: the module's service creates it, with `collect` bound to `inject`. */
function makeProvider<C extends { name: string }, M extends Metric>(
  config: MetricProviderConfiguration<C, M>,
  create: (metrics: RedisMetricsService, config: Omit<C, 'registers'>) => M,
): Provider {
  const { inject = [], collect, ...metricConfig } = config;
  return {
    provide: getMetricToken(config.name),
    useFactory: (metrics: RedisMetricsService, ...injected: unknown[]) => {
      const withCollect = collect
        ? {
            ...metricConfig,
            collect(this: M) {
              return (collect as (this: M, ...args: unknown[]) => void | Promise<void>).apply(
                this,
                injected,
              );
            },
          }
        : metricConfig;
      return create(metrics, withCollect as unknown as Omit<C, 'registers'>);
    },
    inject: [RedisMetricsService, ...inject],
  };
}

/** Provides a counter in the module's registry; inject it with `@InjectMetric(name)`. */
export function makeCounterProvider(
  config: MetricProviderConfiguration<CounterConfiguration<string>, Counter<string>>,
): Provider {
  return makeProvider(config, (metrics, c) => metrics.counter(c));
}

/**
 * Provides a gauge in the module's registry, aggregated across processes by `multiprocessMode`, or by
 * the mode the module option `gaugeModes` gives it.
 */
export function makeGaugeProvider(
  config: MetricProviderConfiguration<RedisGaugeConfiguration<string>, Gauge<string>>,
): Provider {
  return makeProvider(config, (metrics, c) => metrics.gauge(c));
}

/** Provides a histogram in the module's registry. */
export function makeHistogramProvider(
  config: MetricProviderConfiguration<HistogramConfiguration<string>, Histogram<string>>,
): Provider {
  return makeProvider(config, (metrics, c) => metrics.histogram(c));
}

/** Provides a summary in the module's registry (its quantiles computed from every process's window). */
export function makeSummaryProvider(
  config: MetricProviderConfiguration<SummaryConfiguration<string>, Summary<string>>,
): Provider {
  return makeProvider(config, (metrics, c) => metrics.summary(c));
}
