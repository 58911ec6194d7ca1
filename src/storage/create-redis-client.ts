import { Redis, type RedisOptions } from 'ioredis';

import type { RedisMetricsOptions } from '../redis-metrics.options.js';

/**
 * A client for the module's own use. Commands fail fast while Redis is away (no offline queue), so a
 * flush reports the trouble at once instead of piling up; the client keeps reconnecting in the
 * background, and the flusher resynchronises when it is back.
 */
export function createRedisClient(options: RedisMetricsOptions): Redis {
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // A socket that never connected closes at once on shutdown instead of after ioredis' 2 s default.
    disconnectTimeout: 200,
  };
  if (options.url) return new Redis(options.url, common);
  return new Redis({
    ...common,
    host: options.host,
    port: options.port,
    db: options.db,
    username: options.username,
    password: options.password,
    tls: options.ssl ? {} : undefined,
  });
}
