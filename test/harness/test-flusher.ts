import type { Redis } from 'ioredis';

import {
  MetricsFlusher,
  ProcessIdentity,
  RedisMetricsStore,
  type MetricsFlusherOptions,
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
  return new MetricsFlusher({
    store: new RedisMetricsStore(client, prefix),
    identity: ProcessIdentity.create(),
    registry,
    intervalMs: 60_000,
    gaugeModeOf: () => 'all',
    ...options,
  });
}
