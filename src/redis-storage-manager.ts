import {
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { collectDefaultMetrics, register as globalRegistry, type Registry } from 'prom-client';

import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderFamilies,
  type ExpositionContentType,
} from './aggregation/exposition.js';
import { localFamilies } from './aggregation/local-families.js';
import { RedisMultiProcessCollector } from './aggregation/redis-multi-process-collector.js';
import { describeRedisError } from './describe-redis-error.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import {
  resolveRedisMetricsOptions,
  type GaugeMode,
  type RedisMetricsOptions,
} from './redis-metrics.options.js';
import { createRedisClient } from './storage/create-redis-client.js';
import { PrefixKeys } from './storage/keys.js';
import type { RedisClient } from './storage/lua-scripts.js';
import type { MetricsStore } from './storage/metrics-store.js';
import { RedisMetricsStore } from './storage/redis-metrics-store.js';
import { MetricsFlusher, type FlushResult } from './storage/metrics-flusher.js';
import { ProcessIdentity } from './storage/process-identity.js';

/** What `GET /health` reports. Never contains a secret. */
export interface RedisMetricsHealth {
  /** `up`: Redis works; `degraded`: Redis is configured but unreachable; `disabled`: not configured. */
  status: 'up' | 'degraded' | 'disabled';
  /** This process's id in Redis. */
  process: string;
  pid: number;
  /** Milliseconds since the last successful flush, if any. */
  lastFlushAgeMs: number | null;
  /** Processes with a fresh heartbeat, when Redis answers. */
  liveProcesses: number | null;
  /** What went wrong, when degraded. */
  error?: string;
}

/**
 * Owns this process's Redis storage: the client, the background flush, the collector and the
 * process's end. NestJS drives it through lifecycle hooks; outside DI call {@link setup} and
 * {@link teardown} yourself. The counterpart of the Python original's `RedisStorageManager`.
 */
export class RedisStorageManager implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** The resolved settings. */
  readonly options: RedisMetricsOptions;
  /** The registry this process writes. */
  readonly registry: Registry;
  /** This process's identity in Redis. */
  readonly identity: ProcessIdentity;
  readonly keys: PrefixKeys;
  private readonly gaugeModes = new Map<string, GaugeMode>();
  private readonly client: RedisClient | undefined;
  private readonly ownsClient: boolean;
  private readonly store: MetricsStore | undefined;
  private readonly flusher: MetricsFlusher | undefined;
  private readonly collector: RedisMultiProcessCollector | undefined;
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private collectFailing = false;

  constructor(
    private readonly moduleOptions: RedisMetricsModuleOptions = {},
    private readonly logger: Pick<Logger, 'log' | 'warn' | 'error'> = new Logger('RedisMetrics'),
  ) {
    const {
      client,
      store,
      registry,
      gaugeModes,
      identity,
      defaultMetrics,
      httpMetrics,
      ...settings
    } = moduleOptions;
    void defaultMetrics;
    void httpMetrics;
    this.options = resolveRedisMetricsOptions({
      ...settings,
      // Handing over a client or a URL in code means "use Redis" unless said otherwise.
      enabled:
        settings.enabled ??
        (client !== undefined || store !== undefined || settings.url !== undefined),
    });
    this.registry = registry ?? globalRegistry;
    this.identity = ProcessIdentity.create(identity);
    this.keys = new PrefixKeys(this.options.keyPrefix);
    for (const [name, mode] of Object.entries(gaugeModes ?? {})) this.gaugeModes.set(name, mode);
    this.ownsClient = client === undefined && store === undefined;
    if (!this.options.enabled) return;

    // Made now (nothing connects yet), so the client and the collector can be injected.
    if (store) {
      this.store = store;
    } else {
      this.client = client ?? createRedisClient(this.options);
      if (this.ownsClient) this.client.on('error', () => undefined); // reported by flush results, once
      this.store = new RedisMetricsStore(this.client, this.options.keyPrefix);
    }
    this.flusher = new MetricsFlusher({
      store: this.store,
      identity: this.identity,
      registry: this.registry,
      intervalMs: this.options.flushIntervalMs,
      gaugeModeOf: (name) => this.gaugeModeOf(name),
      reapAfterMs: this.options.ttlSeconds * 1000,
      logger: this.logger,
    });
    this.collector = new RedisMultiProcessCollector({
      store: this.store,
      livenessWindowMs: this.options.livenessWindowMs,
      logger: this.logger,
    });
  }

  /** Whether HTTP requests are counted (the `httpMetrics` option, default true). */
  countsHttp(): boolean {
    return this.moduleOptions.httpMetrics !== false;
  }

  /** Sets the multiprocess mode of a gauge (before its first flush). */
  setGaugeMode(metricName: string, mode: GaugeMode): void {
    this.gaugeModes.set(metricName, mode);
  }

  /** The multiprocess mode of a gauge. */
  gaugeModeOf(metricName: string): GaugeMode {
    return this.gaugeModes.get(metricName) ?? this.options.defaultGaugeMode;
  }

  /**
   * Connects and starts the background flush. Resolves `false` when Redis is disabled or unreachable:
   * the app runs on, serving this process's own metrics, and the client keeps trying to connect.
   */
  async setup(): Promise<boolean> {
    if (this.moduleOptions.defaultMetrics !== false) this.collectDefaultMetrics();
    if (!this.flusher || !this.store) {
      this.logger.log('Redis storage is disabled: /metrics serves this process only.');
      return false;
    }
    if (this.state === 'running') return this.isEnabled();
    this.state = 'running';
    if (
      this.ownsClient &&
      this.client &&
      'status' in this.client &&
      this.client.status === 'wait'
    ) {
      await this.client.connect().catch(() => undefined);
    }
    const first = await this.flusher.flush();
    this.flusher.start();
    this.logger.log(
      first.ok
        ? `Storing metrics in ${this.store.description} as ${this.identity.id}.`
        : `${this.store.description} is unreachable: counting in memory, retrying in the background.`,
    );
    return first.ok;
  }

  /**
   * Ends this process's part: last flush, counters folded into the archive, timers stopped and the
   * client closed (if the module made it). Safe to call twice.
   */
  async teardown(): Promise<void> {
    if (this.state !== 'running' || !this.flusher) return;
    this.state = 'stopped';
    const last = await this.flusher.stop();
    if (last.ok) await this.flusher.fold().catch(() => undefined);
    if (this.ownsClient && this.client) {
      await this.client.quit().catch(() => this.client?.disconnect());
    }
  }

  /** Registers prom-client's default process metrics in the registry, once per registry. */
  private collectDefaultMetrics(): void {
    if (this.registry.getSingleMetric('process_cpu_user_seconds_total')) return;
    collectDefaultMetrics({ register: this.registry });
  }

  /** Whether Redis storage is configured, running, and the last flush reached Redis. */
  isEnabled(): boolean {
    return this.state === 'running' && this.flusher?.lastResult?.ok === true;
  }

  /** The Redis client; `undefined` when storage is disabled or not in Redis. */
  getClient(): RedisClient | undefined {
    return this.client;
  }

  /** The collector that merges every process; `undefined` when Redis storage is disabled. */
  getCollector(): RedisMultiProcessCollector | undefined {
    return this.collector;
  }

  /** Flushes this process's metrics now (e.g. before a scrape in a test or a short script). */
  async flush(): Promise<FlushResult | undefined> {
    return this.flusher?.flush();
  }

  /**
   * Folds every process whose heartbeat is older than the TTL into the archive.
   * @returns how many were folded.
   */
  async cleanupKeys(): Promise<number> {
    const store = this.store;
    if (!store) return 0;
    const ttlMs = this.options.ttlSeconds * 1000;
    const { now, heartbeats } = await store.heartbeats();
    let folded = 0;
    for (const [id, heartbeat] of heartbeats) {
      if (heartbeat < now - ttlMs && (await store.fold(id, ttlMs)) >= 0) folded += 1;
    }
    return folded;
  }

  /**
   * The exposition for a scrape: every process merged when Redis answers, else this process's own
   * registry. Never rejects because of Redis.
   */
  async metrics(accept = ''): Promise<{ contentType: ExpositionContentType; body: string }> {
    const contentType = accept.includes('application/openmetrics-text')
      ? OPENMETRICS_CONTENT_TYPE
      : PROMETHEUS_CONTENT_TYPE;
    if (this.collector && this.state === 'running') {
      try {
        const body = await this.collector.metrics(contentType);
        this.collectFailing = false;
        return { contentType, body };
      } catch (error) {
        if (!this.collectFailing) {
          this.logger.warn(
            `Reading metrics from Redis failed; serving this process only: ${(error as Error).message}`,
          );
        }
        this.collectFailing = true;
      }
    }
    return {
      contentType,
      body: await renderFamilies(await localFamilies(this.registry), contentType),
    };
  }

  /** The state of this process's storage, for `GET /health`. */
  async health(): Promise<RedisMetricsHealth> {
    const lastSuccess = this.flusher?.lastSuccessTime;
    const base = {
      process: this.identity.id,
      pid: this.identity.pid,
      lastFlushAgeMs: lastSuccess === undefined ? null : Date.now() - lastSuccess,
    };
    if (!this.store || this.state !== 'running') {
      return { ...base, status: 'disabled', liveProcesses: null };
    }
    try {
      const { now, heartbeats } = await this.store.heartbeats();
      const window = this.options.livenessWindowMs;
      const live = [...heartbeats.values()].filter((heartbeat) => heartbeat > now - window).length;
      const ok = this.isEnabled();
      const failure = this.flusher?.lastResult?.error;
      const error = failure ? describeRedisError(failure, this.client) : 'no successful flush yet';
      return {
        ...base,
        status: ok ? 'up' : 'degraded',
        liveProcesses: live,
        ...(ok ? {} : { error }),
      };
    } catch (error) {
      return {
        ...base,
        status: 'degraded',
        liveProcesses: null,
        error: describeRedisError(error, this.client),
      };
    }
  }

  /** @internal NestJS lifecycle: set up once the app is bootstrapped. */
  async onApplicationBootstrap(): Promise<void> {
    await this.setup();
  }

  /** @internal NestJS lifecycle: the last flush and fold, before connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.teardown();
  }
}
