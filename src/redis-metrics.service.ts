import {
  Counter,
  Gauge,
  Histogram,
  Summary,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
  type SummaryConfiguration,
} from 'prom-client';

import type { GaugeMode } from './redis-metrics.options.js';
import type { RedisStorageManager } from './redis-storage-manager.js';
import type { FlushResult } from './storage/metrics-flusher.js';

/** A gauge's configuration plus how it is aggregated across processes. */
export type RedisGaugeConfiguration<T extends string> = GaugeConfiguration<T> & {
  /** Multiprocess mode of this gauge; default the module's `defaultGaugeMode`. */
  multiprocessMode?: GaugeMode;
};

/**
 * The service an app injects to make metrics. Each `counter()`/`gauge()`/... returns the metric of that
 * name if the registry has it, else registers a new one, so several providers may ask for the same.
 * Names get the module's `customMetricPrefix`, if any.
 */
export class RedisMetricsService {
  constructor(
    private readonly manager: RedisStorageManager,
    /** The `customMetricPrefix` option: put before every name, joined with `_`. */
    private readonly metricPrefix?: string,
  ) {}

  /** A counter in the module's registry. */
  counter<T extends string>(config: Omit<CounterConfiguration<T>, 'registers'>): Counter<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(
      name,
      () => new Counter({ ...config, name, registers: [this.manager.registry] }),
    );
  }

  /** A gauge in the module's registry, aggregated by its `multiprocessMode`. */
  gauge<T extends string>(config: Omit<RedisGaugeConfiguration<T>, 'registers'>): Gauge<T> {
    const { multiprocessMode, ...gaugeConfig } = config;
    const name = this.fullName(config.name);
    if (multiprocessMode) this.manager.setGaugeMode(name, multiprocessMode);
    return this.getOrCreate(
      name,
      () => new Gauge({ ...gaugeConfig, name, registers: [this.manager.registry] }),
    );
  }

  /** A histogram in the module's registry. */
  histogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(
      name,
      () => new Histogram({ ...config, name, registers: [this.manager.registry] }),
    );
  }

  /** A summary in the module's registry (only its `_count` and `_sum` are merged across processes). */
  summary<T extends string>(config: Omit<SummaryConfiguration<T>, 'registers'>): Summary<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(
      name,
      () => new Summary({ ...config, name, registers: [this.manager.registry] }),
    );
  }

  /** The name a metric gets in the registry: `customMetricPrefix` + `_` + name, or the name alone. */
  fullName(name: string): string {
    return this.metricPrefix ? `${this.metricPrefix}_${name}` : name;
  }

  /** Whether the module counts HTTP requests (the `httpMetrics` option). */
  countsHttp(): boolean {
    return this.manager.countsHttp();
  }

  /** Writes this process's metrics to Redis now. */
  flush(): Promise<FlushResult | undefined> {
    return this.manager.flush();
  }

  private getOrCreate<M extends Metric>(name: string, create: () => M): M {
    return (this.manager.registry.getSingleMetric(name) as M | undefined) ?? create();
  }
}
