import type { Registry } from 'prom-client';

import type { GaugeMode, RedisMetricsOptions } from './redis-metrics.options.js';
import type { RedisClient } from './storage/lua-scripts.js';
import type { MetricsStore } from './storage/metrics-store.js';

/**
 * What `RedisMetricsModule.forRoot()` accepts: any of the {@link RedisMetricsOptions} (validated, with
 * defaults) plus what can only be given in code.
 */
export interface RedisMetricsModuleOptions extends Partial<RedisMetricsOptions> {
  /**
   * An ioredis client to use instead of one made from the options: a single server, Sentinel-backed or
   * a `Cluster`. The module never closes a client it did not make.
   */
  client?: RedisClient;
  /**
   * Keep the series somewhere else than Redis: a `MetricsStore`, for example an `IpcMetricsStore` in
   * a node:cluster worker whose primary serves a `MemoryMetricsStore` (one host, no Redis).
   */
  store?: MetricsStore;
  /** The prom-client registry this process writes; default prom-client's global `register`. */
  registry?: Registry;
  /** Multiprocess mode per gauge name; a gauge not listed uses `defaultGaugeMode`. */
  gaugeModes?: Record<string, GaugeMode>;
  /** Name this process differently in Redis (the id always gets a fresh nonce as well). */
  identity?: { hostname?: string; pid?: number };
  /** Register prom-client's default process metrics (CPU, memory, event loop, GC) in the registry (default true). */
  defaultMetrics?: boolean;
  /** Count HTTP requests: total, failed, duration and in flight, by method, route template and status (default true). */
  httpMetrics?: boolean;
}
