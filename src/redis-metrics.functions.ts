import { Logger } from '@nestjs/common';

import type { RedisMultiProcessCollector } from './aggregation/redis-multi-process-collector.js';
import { describeRedisMetricsEnv } from './redis-metrics.env-source.js';
import { readRedisMetricsOptionsFromEnv } from './redis-metrics.options.js';
import { RedisStorageManager } from './redis-storage-manager.js';
import type { RedisClient } from './storage/lua-scripts.js';

// For code outside dependency injection (a cluster primary, a script): one manager per process,
// configured from the environment variables, as the Python original's module-level functions.
let manager: RedisStorageManager | undefined;

/** The process-wide manager, made from the environment on first use. */
export function getRedisStorageManager(): RedisStorageManager {
  if (!manager) {
    manager = new RedisStorageManager(readRedisMetricsOptionsFromEnv());
    new Logger('RedisMetrics').log(describeRedisMetricsEnv());
  }
  return manager;
}

/**
 * Sets up Redis storage for the process-wide manager; `false` when disabled or unreachable.
 * @throws (rejects with) RedisMetricsConfigError when a variable of the environment is wrong, as the
 * other functions that return a promise do: never synchronously.
 */
export async function setupRedisMetrics(): Promise<boolean> {
  return getRedisStorageManager().setup();
}

/** Last flush, end and close for the process-wide manager; the next call to a function makes a new one. */
export async function teardownRedisMetrics(): Promise<void> {
  const current = manager;
  manager = undefined;
  await current?.teardown();
}

/** Whether the process-wide manager stores metrics in Redis and its last flush succeeded. */
export function isRedisEnabled(): boolean {
  return manager?.isEnabled() ?? false;
}

/** The process-wide manager's Redis client, if Redis storage is enabled. */
export function getRedisClient(): RedisClient | undefined {
  return getRedisStorageManager().getClient();
}

/**
 * Ends processes whose heartbeat is older than the TTL (their counts stay); how many were ended.
 * Rejects (never throws) when the environment is wrong or Redis cannot be reached.
 */
export async function cleanupRedisKeys(): Promise<number> {
  return getRedisStorageManager().cleanupKeys();
}

/**
 * Ends the processes with this pid (on this host unless `hostname` says otherwise) at once, instead of
 * waiting for their heartbeat to expire: all their gauges leave the next scrape, whatever the mode (not
 * only the `live*` ones, as they would in Python), and their counts stay. The counterpart of Python's
 * `mark_process_dead(pid)`, for a cluster primary's worker `exit` handler, where a `.catch()` on it
 * is enough to keep the primary up: it rejects, never throws, when the environment is wrong (a
 * `RedisMetricsConfigError`) or Redis cannot be reached.
 * @returns the ids of the processes ended.
 */
export async function markProcessDead(process: {
  pid: number;
  hostname?: string;
}): Promise<string[]> {
  return getRedisStorageManager().markProcessDead(process);
}

/**
 * Deletes counts from the shared totals: every series of a counter, histogram or summary (by its name
 * in the registry), or the one of `labels` (every label, default labels included). For a script or a
 * cluster primary that retires a metric or a label value; see
 * {@link RedisStorageManager.deleteCounts}, which it calls on the process-wide manager.
 * Rejects (never throws) when the environment is wrong or Redis cannot be reached.
 * @returns how many series were deleted (0 with storage off).
 */
export async function deleteCounts(
  metricName: string,
  labels?: Record<string, string | number>,
): Promise<number> {
  return getRedisStorageManager().deleteCounts(metricName, labels);
}

/** The process-wide manager's collector, if Redis storage is enabled. */
export function getRedisCollector(): RedisMultiProcessCollector | undefined {
  return getRedisStorageManager().getCollector();
}
