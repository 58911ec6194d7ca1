export {
  RedisAuthenticationError,
  RedisConnectionError,
  RedisMetricsConfigError,
  RedisTimeoutError,
  toRedisError,
  withRetry,
  type RedisMetricsRedisError,
  type RetryOptions,
} from './errors.js';
export {
  DEFAULT_REDIS_METRICS_OPTIONS,
  GAUGE_MODES,
  REDIS_METRICS_ENV,
  readRedisMetricsOptionsFromEnv,
  redactRedisMetricsOptions,
  resolveRedisMetricsOptions,
  type GaugeMode,
  type RedisMetricsOptions,
} from './redis-metrics.options.js';
export { redisMetricsConfig } from './redis-metrics.config.js';
export {
  PrefixKeys,
  parseSeriesField,
  redisKey,
  seriesField,
  type Labels,
  type MetricMeta,
  type ProcessInfo,
  type SeriesParts,
} from './storage/keys.js';
export type { RedisClient } from './storage/lua-scripts.js';
export {
  MetricsFlusher,
  type FlushLogger,
  type FlushResult,
  type MetricsFlusherOptions,
} from './storage/metrics-flusher.js';
export { ProcessIdentity } from './storage/process-identity.js';
export { pythonJsonDumps, type PythonJsonValue } from './storage/python-json.js';
export {
  RedisStorageDict,
  type RedisStorageDictOptions,
  type StorageEntries,
} from './storage/redis-storage-dict.js';
export { redisNow } from './storage/redis-time.js';
export {
  snapshotRegistry,
  type GaugeModeResolver,
  type RegistrySnapshot,
} from './storage/registry-snapshot.js';
export type { StoredValue } from './storage/stored-value.js';
export {
  foldProcess,
  writeSeries,
  type SeriesWrite,
  type SeriesWriteResult,
} from './storage/write-series.js';
export {
  familiesToRegistry,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderFamilies,
  type ExpositionContentType,
} from './aggregation/exposition.js';
export { gaugeModeRule, type ModeRule, type TimedValue } from './aggregation/gauge-modes.js';
export { mergeMetrics, type MergeOptions } from './aggregation/merge-metrics.js';
export { labelsKey, type MetricFamily, type MetricSample } from './aggregation/metric-family.js';
export {
  parsePrefixReply,
  readPrefix,
  type PrefixData,
  type ProcessRecord,
  type StoredSeries,
} from './aggregation/prefix-data.js';
export {
  RedisMultiProcessCollector,
  type RedisMultiProcessCollectorOptions,
} from './aggregation/redis-multi-process-collector.js';
export { localFamilies } from './aggregation/local-families.js';
export {
  createRedisMetricsController,
  type RedisMetricsPaths,
} from './http/redis-metrics.controller.js';
export { UNMATCHED_ROUTE } from './http/request-metrics.js';
export {
  getMetricToken,
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
} from './metrics/metric-providers.js';
export { REDIS_METRICS_MODULE_OPTIONS } from './redis-metrics.constants.js';
export {
  cleanupRedisKeys,
  getRedisClient,
  getRedisCollector,
  getRedisStorageManager,
  isRedisEnabled,
  setupRedisMetrics,
  teardownRedisMetrics,
} from './redis-metrics.functions.js';
export type { RedisMetricsModuleExtras } from './redis-metrics.module-definition.js';
export type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
export { RedisMetricsModule } from './redis-metrics.module.js';
export { RedisMetricsService, type RedisGaugeConfiguration } from './redis-metrics.service.js';
export { RedisStorageManager, type RedisMetricsHealth } from './redis-storage-manager.js';
export { createRedisClient } from './storage/create-redis-client.js';
export { IpcMetricsStore, serveMetricsStore } from './storage/ipc-metrics-store.js';
export { MemoryMetricsStore } from './storage/memory-metrics-store.js';
export type { MetricsStore, ProcessHeartbeats, RawPrefixReply } from './storage/metrics-store.js';
export { RedisMetricsStore } from './storage/redis-metrics-store.js';
