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
export { describeRedisError } from './storage/describe-redis-error.js';
export {
  DEFAULT_REDIS_METRICS_OPTIONS,
  lostDataGraceMs,
  GAUGE_MODES,
  REDIS_METRICS_ENV,
  readRedisMetricsOptionsFromEnv,
  redactRedisMetricsOptions,
  resolveRedisMetricsOptions,
  type GaugeMode,
  type GivenRedisMetricsOptions,
  type RedisMetricsOptions,
} from './redis-metrics.options.js';
export { DEFAULT_SENTINEL_PORT, type RedisSentinelAddress } from './sentinel-addresses.js';
export {
  describeRedisMetricsEnv,
  redisUrlFromEnv,
  type RedisUrlSource,
} from './redis-metrics.env-source.js';
export {
  METRICS_AUTH_ENV,
  readMetricsAuthFromEnv,
  type MetricsAuthOptions,
} from './metrics-auth.options.js';
export {
  isMarkerField,
  MARKER,
  PrefixKeys,
  parseSeriesField,
  redisKey,
  seriesField,
  type Labels,
  type MetricMeta,
  type MetricType,
  type ProcessInfo,
  type SeriesParts,
} from './storage/keys.js';
export type { RedisClient } from './storage/lua-scripts.js';
export {
  MetricsFlusher,
  type AcknowledgedWrite,
  type FlushLogger,
  type FlushResult,
  type MetricsFlusherOptions,
} from './storage/metrics-flusher.js';
export {
  addPacked,
  decodeNumber,
  decodePacked,
  encodeNumber,
  encodePacked,
  packedDelta,
  type PackedSlots,
} from './storage/packed-values.js';
export { parseProcessInfo, ProcessIdentity } from './storage/process-identity.js';
export {
  planRepair,
  type RepairPlan,
  type PreviousValuesLoad,
  type UnansweredWrite,
  type WriteHistory,
} from './storage/repair-plan.js';
export { scanHash, type ScannedHash } from './storage/hash-scan.js';
export {
  splitIntoBatches,
  type BatchContent,
  type SeriesChanges,
} from './storage/write-batches.js';
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
export { decodeStoredValue, encodeStoredValue, type StoredValue } from './storage/stored-value.js';
export {
  decodeWindowDigest,
  encodeCentroids,
  encodeWindowDigest,
  isWindowDigest,
  type Centroid,
  type WindowDigest,
} from './storage/window-digest.js';
export { SummaryWindowReader, type SummaryWindow } from './storage/summary-windows.js';
export {
  decodeExemplar,
  encodeExemplar,
  exemplarField,
  parseExemplarField,
  type StoredExemplar,
} from './storage/stored-exemplar.js';
export { ExemplarReader, type RecordedExemplar } from './storage/exemplar-reader.js';
export {
  familiesToRegistry,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderFamilies,
  type ExpositionContentType,
} from './aggregation/exposition.js';
export { gaugeModeRule, type ModeRule, type TimedValue } from './aggregation/gauge-modes.js';
export { mergeMetrics, type MergeOptions } from './aggregation/merge-metrics.js';
export { mergedQuantiles } from './aggregation/merge-quantiles.js';
export {
  labelsKey,
  type MetricFamily,
  type MetricSample,
  type SampleExemplar,
} from './aggregation/metric-family.js';
export {
  parseSnapshot,
  readPrefix,
  type DeclaredMode,
  type GaugeSeries,
  type PrefixData,
  type PrefixMarkers,
  type ExemplarSeries,
  type ProcessRecord,
  type SeriesIdentity,
  type TotalSeries,
  type WindowSeries,
} from './aggregation/prefix-data.js';
export { MergedScrapeUnavailableError } from './aggregation/merged-scrape-error.js';
export { validLabelName, validMetricName } from './prometheus-names.js';
export {
  RedisMultiProcessCollector,
  type RedisMultiProcessCollectorOptions,
} from './aggregation/redis-multi-process-collector.js';
export { localFamilies } from './aggregation/local-families.js';
export {
  createRedisMetricsController,
  RedisMetricsController,
  type HttpReply,
  type RequestHeaders,
  type RedisMetricsPaths,
} from './http/redis-metrics.controller.js';
export { MetricsAuthGuard } from './http/metrics-auth.guard.js';
export { UNMATCHED_ROUTE } from './http/request-metrics.js';
export {
  getMetricToken,
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
  type MetricProviderConfiguration,
  type MetricProviderInjectable,
} from './metrics/metric-providers.js';
export { REDIS_METRICS_MODULE_OPTIONS } from './redis-metrics.constants.js';
export {
  cleanupRedisKeys,
  deleteCounts,
  getRedisClient,
  getRedisCollector,
  getRedisStorageManager,
  isRedisEnabled,
  markProcessDead,
  setupRedisMetrics,
  teardownRedisMetrics,
} from './redis-metrics.functions.js';
export type {
  RedisMetricsModuleAsyncOptions,
  RedisMetricsModuleExtras,
} from './redis-metrics.module-definition.js';
export type {
  RedisMetricsDefaultMetrics,
  RedisMetricsModuleOptions,
  RedisMetricsOptionsFactory,
} from './redis-metrics.module-options.js';
export { RedisMetricsModule } from './redis-metrics.module.js';
export { RedisMetricsService, type RedisGaugeConfiguration } from './redis-metrics.service.js';
export { RedisStorageManager } from './redis-storage-manager.js';
export { stallAfterMs, storageHealth, type RedisMetricsHealth } from './storage-health.js';
export { MetricsScrape, type ScrapeOptions, type ScrapeResponse } from './metrics-scrape.js';
export { createRedisClient } from './storage/create-redis-client.js';
export { IpcMetricsStore, serveMetricsStore } from './storage/ipc-metrics-store.js';
export type { ClusterMessages } from './storage/ipc-flush-requests.js';
export { MemoryMetricsStore } from './storage/memory-metrics-store.js';
export type {
  FlushRequestChannel,
  FlushRequestOutcome,
  IndexedProcess,
  MetricsStore,
  ProcessIndex,
  ReadOptions,
  RebaseRequest,
  SeriesBatch,
  StoredMarkers,
  StoreSnapshot,
  WriteReply,
  WriterIdentity,
} from './storage/metrics-store.js';
export { RedisMetricsStore } from './storage/redis-metrics-store.js';
export { evictingPolicy } from './storage/eviction-policy.js';
