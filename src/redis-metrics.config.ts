import { Logger } from '@nestjs/common';
import { registerAs } from '@nestjs/config';

import { readMetricsAuthFromEnv } from './metrics-auth.options.js';
import { describeRedisMetricsEnv } from './redis-metrics.env-source.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import { readRedisMetricsOptionsFromEnv } from './redis-metrics.options.js';

/**
 * The module's options as a `@nestjs/config` namespace (`redisMetrics`), read from the environment
 * variables of {@link REDIS_METRICS_ENV} and {@link METRICS_AUTH_ENV} when `ConfigModule` loads it, and
 * logs which variable turned Redis storage on or off. A bad value stops start-up with a
 * `RedisMetricsConfigError` naming the variable.
 *
 * Imported from `nestjs-redis-metrics/config`, so that apps without @nestjs/config never load it.
 *
 * @example
 * RedisMetricsModule.forRootAsync(redisMetricsConfig.asProvider())
 */
export const redisMetricsConfig = registerAs('redisMetrics', (): RedisMetricsModuleOptions => {
  const options: RedisMetricsModuleOptions = readRedisMetricsOptionsFromEnv();
  const auth = readMetricsAuthFromEnv();
  if (auth) options.auth = auth;
  new Logger('RedisMetrics').log(describeRedisMetricsEnv());
  return options;
});
