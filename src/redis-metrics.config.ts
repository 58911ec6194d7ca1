import { registerAs } from '@nestjs/config';

import { readRedisMetricsOptionsFromEnv } from './redis-metrics.options.js';

/**
 * The module's options as a `@nestjs/config` namespace (`redisMetrics`), read from the environment
 * variables of {@link REDIS_METRICS_ENV} when `ConfigModule` loads it. A bad value stops start-up with a
 * `RedisMetricsConfigError` naming the variable.
 *
 * @example
 * ConfigModule.forRoot({ load: [redisMetricsConfig] })
 * // later: configService.get<RedisMetricsOptions>('redisMetrics')
 */
export const redisMetricsConfig = registerAs('redisMetrics', () =>
  readRedisMetricsOptionsFromEnv(),
);
