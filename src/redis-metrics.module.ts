import { Module } from '@nestjs/common';

import { RedisMetricsConfigurableModule } from './redis-metrics.module-definition.js';

/**
 * Prometheus metrics aggregated across every process of an app through Redis.
 *
 * `forRoot(options)` takes options in code; `forRootAsync({ imports, inject, useFactory | useClass |
 * useExisting })` takes them from a factory, for example `redisMetricsConfig.asProvider()` of
 * `@nestjs/config`. Both accept `isGlobal`, `controller`, `metricsPath` and `healthPath`.
 *
 * @example
 * @Module({ imports: [RedisMetricsModule.forRoot({ url: 'redis://localhost:6379' })] })
 * export class AppModule {}
 */
@Module({})
export class RedisMetricsModule extends RedisMetricsConfigurableModule {}
