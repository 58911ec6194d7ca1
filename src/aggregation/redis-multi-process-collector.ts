import { Redis } from 'ioredis';
import type { Registry } from 'prom-client';

import { DEFAULT_REDIS_METRICS_OPTIONS } from '../redis-metrics.options.js';
import type { RedisClient } from '../storage/lua-scripts.js';
import type { MetricsStore } from '../storage/metrics-store.js';
import { RedisMetricsStore } from '../storage/redis-metrics-store.js';
import {
  familiesToRegistry,
  PROMETHEUS_CONTENT_TYPE,
  type ExpositionContentType,
} from './exposition.js';
import { mergeMetrics } from './merge-metrics.js';
import type { MetricFamily } from './metric-family.js';
import { readPrefix } from './prefix-data.js';

/** Options of a {@link RedisMultiProcessCollector}. */
export interface RedisMultiProcessCollectorOptions {
  /** Where the series are; default: Redis through `client`. */
  store?: MetricsStore;
  /** The Redis client; default: one made from `PROMETHEUS_REDIS_URL` (closed by {@link close}). */
  client?: RedisClient;
  /** Key prefix; default `REDIS_KEY_PREFIX` or `nestjs`. */
  keyPrefix?: string;
  /** A process is live while its heartbeat is younger than this (ms); default 5000. */
  livenessWindowMs?: number;
  /** Where unreadable data under the prefix is reported, once per scrape. */
  logger?: { warn(message: string): void };
}

/**
 * Aggregates the metrics every process stored under one prefix, at scrape time: one Redis round trip
 * (a read-only script), no KEYS and no SCAN. The counterpart of the Python original's
 * `RedisMultiProcessCollector`.
 */
export class RedisMultiProcessCollector {
  private readonly client: RedisClient | undefined;
  private readonly ownsClient: boolean;
  private readonly store: MetricsStore;
  private readonly livenessWindowMs: number;

  constructor(private readonly options: RedisMultiProcessCollectorOptions = {}) {
    if (options.store) {
      this.client = undefined;
      this.ownsClient = false;
    } else if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      const url = process.env.PROMETHEUS_REDIS_URL;
      if (!url) {
        throw new TypeError(
          'RedisMultiProcessCollector needs a Redis client: pass options.client or set PROMETHEUS_REDIS_URL',
        );
      }
      this.client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      this.ownsClient = true;
    }
    this.store =
      options.store ??
      new RedisMetricsStore(
        this.client!,
        options.keyPrefix ??
          process.env.REDIS_KEY_PREFIX ??
          DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix,
      );
    this.livenessWindowMs =
      options.livenessWindowMs ?? DEFAULT_REDIS_METRICS_OPTIONS.livenessWindowMs;
  }

  /** The merged metric families of every process. Rejects when Redis cannot be read. */
  async collect(): Promise<MetricFamily[]> {
    const { families, problems } = mergeMetrics(await readPrefix(this.store), {
      livenessWindowMs: this.livenessWindowMs,
      accumulate: true,
    });
    if (problems.length > 0) {
      this.options.logger?.warn(
        `Skipped ${problems.length} unreadable entr${problems.length === 1 ? 'y' : 'ies'} in ${this.store.description}: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; ...' : ''}`,
      );
    }
    return families;
  }

  /** A prom-client registry holding the merged metrics, e.g. to combine with `Registry.merge`. */
  async registry(
    contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE,
  ): Promise<Registry<ExpositionContentType>> {
    return familiesToRegistry(await this.collect(), contentType);
  }

  /** The merged metrics as exposition text (Prometheus 0.0.4 or OpenMetrics 1.0). */
  async metrics(contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE): Promise<string> {
    return (await this.registry(contentType)).metrics();
  }

  /** Closes the client if the collector made it. */
  async close(): Promise<void> {
    if (this.ownsClient) await this.client?.quit().catch(() => undefined);
  }

  /**
   * Merges everything stored under a prefix (`accumulate` as in Python's prometheus_client: `true`
   * gives cumulative buckets and `_count`, `false` per-bucket sums and no `_count`).
   */
  static async mergeFromRedis(
    client: RedisClient,
    keyPrefix: string = DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix,
    accumulate = true,
    livenessWindowMs: number = DEFAULT_REDIS_METRICS_OPTIONS.livenessWindowMs,
  ): Promise<MetricFamily[]> {
    const data = await readPrefix(new RedisMetricsStore(client, keyPrefix));
    return mergeMetrics(data, { livenessWindowMs, accumulate }).families;
  }
}
