import type { Redis } from 'ioredis';

import {
  MetricsFlusher,
  ProcessIdentity,
  RedisMetricsStore,
  type MetricsFlusherOptions,
  type MetricsStore,
} from '../../src/index.js';

/**
 * A flusher of `registry` as one process of the module would have, writing under `prefix`: gauges in
 * mode `all`, and no timer worth the name (a test flushes by hand). `options` replace any of these.
 */
export function testFlusher(
  client: Redis,
  prefix: string,
  registry: MetricsFlusherOptions['registry'],
  options: Partial<MetricsFlusherOptions> = {},
): MetricsFlusher {
  return storeFlusher(new RedisMetricsStore(client, prefix), registry, options);
}

/** As {@link testFlusher}, writing to `store` (a store of any kind, or one a test wraps). */
export function storeFlusher(
  store: MetricsStore,
  registry: MetricsFlusherOptions['registry'],
  options: Partial<MetricsFlusherOptions> = {},
): MetricsFlusher {
  return new MetricsFlusher({
    store,
    identity: ProcessIdentity.create(),
    registry,
    intervalMs: 60_000,
    gaugeModeOf: () => 'all',
    ...options,
  });
}
