import type {
  DefaultMetricsCollectorConfiguration,
  PrometheusContentType,
  Registry,
  RegistryContentType,
} from 'prom-client';

import type { MetricsAuthOptions } from './metrics-auth.options.js';
import type { GaugeMode, GivenRedisMetricsOptions } from './redis-metrics.options.js';
import type { RedisClient } from './storage/lua-scripts.js';
import type { MetricsStore } from './storage/metrics-store.js';

/**
 * What `RedisMetricsModule.forRoot()` accepts: any of the {@link GivenRedisMetricsOptions} (the
 * settings of `RedisMetricsOptions`, validated, with defaults) plus what can only be given in code. An
 * option given as `undefined` counts as not given.
 */
export interface RedisMetricsModuleOptions extends GivenRedisMetricsOptions {
  /**
   * An ioredis client to use instead of one made from the options: a single server, Sentinel-backed or
   * a `Cluster`. The module never closes a client it did not make.
   */
  client?: RedisClient | undefined;
  /**
   * Keep the series somewhere else than Redis: a `MetricsStore`, for example an `IpcMetricsStore` in
   * a node:cluster worker whose primary serves a `MemoryMetricsStore` (one host, no Redis).
   */
  store?: MetricsStore | undefined;
  /** The prom-client registry this process writes; default prom-client's global `register`. */
  registry?: Registry<RegistryContentType> | undefined;
  /**
   * Multiprocess mode per gauge name; a gauge not listed uses its `multiprocessMode`, else
   * `defaultGaugeMode`. A mode given here wins over the `multiprocessMode` a gauge was made with (the
   * module's own `http_requests_in_flight` too). The name is the one in the registry: with
   * `customMetricPrefix: 'shop'`, a gauge made as `open_carts` is `shop_open_carts`.
   */
  gaugeModes?: Record<string, GaugeMode> | undefined;
  /** Name this process differently in Redis (the id always gets a fresh nonce as well). */
  identity?: { hostname?: string; pid?: number } | undefined;
  /**
   * prom-client's default process metrics (CPU, memory, event loop, GC) in the registry (default on).
   * `false` or `{ enabled: false }` leaves them out; `{ enabled: true, config }` passes `config` (a
   * `prefix`, `labels`, `gcDurationBuckets`, ...) to prom-client's `collectDefaultMetrics`.
   */
  defaultMetrics?: boolean | RedisMetricsDefaultMetrics | undefined;
  /**
   * Labels added to every series of the registry (prom-client's `registry.setDefaultLabels`), for
   * example `{ app: 'shop' }`. Use labels whose values every process shares, or the merge keeps one
   * series per value.
   */
  defaultLabels?: Record<string, string | number> | undefined;
  /**
   * Prefix of every metric made through `RedisMetricsService` and the `make*Provider` functions, joined
   * with `_`: `{ customMetricPrefix: 'shop' }` turns `orders_total` into `shop_orders_total`. The module's
   * HTTP metrics are made that way too; prom-client's default metrics take `defaultMetrics.config.prefix`.
   * `@InjectMetric()` keeps using the name without the prefix.
   */
  customMetricPrefix?: string | undefined;
  /**
   * Protect the module's routes: a bearer token and/or basic auth a scraper must send (401 otherwise).
   * Off by default. Nest guards of your own go in the `guards` module extra.
   */
  auth?: MetricsAuthOptions | undefined;
  /** Count HTTP requests: total, failed, duration and in flight, by method, route template and status (default true). */
  httpMetrics?: boolean | undefined;
}

/**
 * A class that makes the module's options, for `forRootAsync({ useClass })` (Nest makes it, with what
 * its constructor injects) or `forRootAsync({ useExisting })` (a provider of yours). Nest calls its
 * `create()` once, when the module is made.
 *
 * @example
 * @Injectable()
 * class MetricsOptions implements RedisMetricsOptionsFactory {
 *   constructor(private readonly config: ConfigService) {}
 *   create(): RedisMetricsModuleOptions {
 *     return { url: this.config.get('METRICS_REDIS_URL') };
 *   }
 * }
 * RedisMetricsModule.forRootAsync({ imports: [ConfigModule], useClass: MetricsOptions })
 */
export interface RedisMetricsOptionsFactory {
  /** The module's options, checked as those of `forRoot()`; may be async. */
  create(): RedisMetricsModuleOptions | Promise<RedisMetricsModuleOptions>;
}

/** prom-client's default metrics, as @willsoto/nestjs-prometheus configures them. */
export interface RedisMetricsDefaultMetrics {
  /** Whether they are collected. */
  enabled: boolean;
  /** Passed to prom-client's `collectDefaultMetrics` (its `register` is the module's registry). */
  config?: Omit<DefaultMetricsCollectorConfiguration<PrometheusContentType>, 'register'>;
}
