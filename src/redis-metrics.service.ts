import {
  Counter,
  Gauge,
  Histogram,
  Summary,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Metric,
  type Registry,
  type RegistryContentType,
  type SummaryConfiguration,
} from 'prom-client';

import { RedisMetricsConfigError } from './errors.js';
import { checkGaugeMode } from './gauge-mode-check.js';
import { existingMetric, type WantedMetric } from './metrics/existing-metric.js';
import type { GaugeMode } from './redis-metrics.options.js';
import type { RedisStorageManager } from './redis-storage-manager.js';
import type { FlushResult } from './storage/metrics-flusher.js';

/** A gauge's configuration plus how it is aggregated across processes. */
export type RedisGaugeConfiguration<T extends string> = GaugeConfiguration<T> & {
  /**
   * Multiprocess mode of this gauge; default the module's `defaultGaugeMode`. A mode the module
   * option `gaugeModes` gives this gauge wins over it (the manager logs once that it does).
   */
  multiprocessMode?: GaugeMode;
};

/**
 * The service an app injects to make metrics. Each `counter()`/`gauge()`/... returns the metric of that
 * name if the registry has it with the same type and label names, else registers a new one, so several
 * providers may ask for the same. A name the registry holds as another type or with other label names
 * throws a `RedisMetricsConfigError` naming both, and so does a gauge asked for with another
 * `multiprocessMode` than it was made with. Names get the module's `customMetricPrefix`, if any.
 */
export class RedisMetricsService {
  /** The `multiprocessMode` each gauge was made with through this service. */
  private readonly askedGaugeModes = new Map<string, GaugeMode>();

  constructor(
    private readonly manager: RedisStorageManager,
    /** The `customMetricPrefix` option: put before every name, joined with `_`. */
    private readonly metricPrefix?: string,
  ) {}

  /**
   * A counter in the module's registry. With `enableExemplars`, `inc({ labels, value, exemplarLabels })`
   * records an exemplar that OpenMetrics scrapes serve (the latest of every process).
   */
  counter<T extends string>(config: Omit<CounterConfiguration<T>, 'registers'>): Counter<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(name, { kind: 'counter', labelNames: config.labelNames }, () =>
      this.registered(config, (registers) => new Counter({ ...config, name, registers })),
    );
  }

  /** A gauge in the module's registry, aggregated by its `multiprocessMode` unless `gaugeModes` names it. */
  gauge<T extends string>(config: Omit<RedisGaugeConfiguration<T>, 'registers'>): Gauge<T> {
    const { multiprocessMode, ...gaugeConfig } = config;
    const name = this.fullName(config.name);
    // Checked before the gauge is registered, so a typo leaves nothing behind.
    if (multiprocessMode !== undefined) checkGaugeMode(name, multiprocessMode);
    const asked = this.askedGaugeModes.get(name);
    if (multiprocessMode !== undefined && asked !== undefined && asked !== multiprocessMode) {
      // One gauge has one mode: the later ask would silently change how the earlier one is merged.
      throw new RedisMetricsConfigError(
        `gauge "${name}"`,
        `was made with the multiprocessMode "${asked}" and asked for again with "${multiprocessMode}": ask with the same mode (or none) to share it, or give the other gauge its own name`,
      );
    }
    const gauge = this.getOrCreate<Gauge<T>>(
      name,
      { kind: 'gauge', labelNames: config.labelNames },
      () => new Gauge({ ...gaugeConfig, name, registers: [this.manager.registry] }),
    );
    if (multiprocessMode !== undefined) {
      this.manager.setGaugeMode(name, multiprocessMode);
      this.askedGaugeModes.set(name, multiprocessMode);
    }
    this.manager.checkGaugeModeName(config.name, name);
    return gauge;
  }

  /**
   * A histogram in the module's registry. With `enableExemplars`,
   * `observe({ labels, value, exemplarLabels })` records an exemplar for the bucket the value falls in,
   * which OpenMetrics scrapes serve (the latest of every process).
   */
  histogram<T extends string>(config: Omit<HistogramConfiguration<T>, 'registers'>): Histogram<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(
      name,
      { kind: 'histogram', labelNames: config.labelNames, buckets: config.buckets },
      () => this.registered(config, (registers) => new Histogram({ ...config, name, registers })),
    );
  }

  /**
   * A summary in the module's registry: `_count` and `_sum` are summed across processes, and each
   * quantile is computed from the quantile windows of every process together.
   */
  summary<T extends string>(config: Omit<SummaryConfiguration<T>, 'registers'>): Summary<T> {
    const name = this.fullName(config.name);
    return this.getOrCreate(
      name,
      { kind: 'summary', labelNames: config.labelNames, percentiles: config.percentiles },
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

  /**
   * Deletes the counts of a counter, histogram or summary from the shared totals, by the name it was
   * made with here (`customMetricPrefix` is added): every series, or the one of `labels` (the module's
   * `defaultLabels` are added). See {@link RedisStorageManager.deleteCounts}.
   * @returns how many series were deleted (0 with storage off).
   */
  deleteCounts(name: string, labels?: Record<string, string | number>): Promise<number> {
    return this.manager.deleteCounts(this.fullName(name), labels);
  }

  /** Writes this process's metrics to Redis now. */
  flush(): Promise<FlushResult | undefined> {
    return this.manager.flush();
  }

  /**
   * Makes a metric in the module's registry. prom-client refuses a metric with exemplars in a registry
   * whose content type is the text format, but the module's route picks the format per scrape (and
   * serves exemplars in OpenMetrics), so such a metric is made unregistered and registered here.
   */
  private registered<M extends Metric>(
    config: { enableExemplars?: boolean },
    create: (registers: Registry<RegistryContentType>[]) => M,
  ): M {
    const registry = this.manager.registry;
    if (!config.enableExemplars) return create([registry]);
    const metric = create([]);
    registry.registerMetric(metric);
    return metric;
  }

  private getOrCreate<M extends Metric>(name: string, wanted: WantedMetric, create: () => M): M {
    return existingMetric<M>(this.manager.registry, name, wanted) ?? create();
  }
}
