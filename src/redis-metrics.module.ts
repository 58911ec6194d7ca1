import { Inject, Module, Optional, type DynamicModule, type NestModule } from '@nestjs/common';

import { RedisMetricsConfigError } from './errors.js';
import { RequestMetricsInstaller } from './http/request-metrics.installer.js';
import { checkForRootAsyncCall, checkForRootCall } from './redis-metrics.module-call-check.js';
import {
  RedisMetricsConfigurableModule,
  type REDIS_METRICS_ASYNC_OPTIONS_TYPE,
  type REDIS_METRICS_OPTIONS_TYPE,
} from './redis-metrics.module-definition.js';
import { RedisMetricsService } from './redis-metrics.service.js';

/**
 * Prometheus metrics aggregated across every process of an app through Redis. Import it once, in the
 * root module: it is global by default, so `RedisMetricsService`, the `make*Provider` metrics and
 * `@InjectMetric` work in every module.
 *
 * `forRoot(options)` takes options in code; `forRootAsync({ imports, inject, useFactory | useClass |
 * useExisting })` takes them from a factory, for example `redisMetricsConfig.asProvider()` of
 * `nestjs-redis-metrics/config`. Both accept the extras `isGlobal`, `controller`, `metricsPath`,
 * `healthPath` and `guards`.
 *
 * @example
 * @Module({ imports: [RedisMetricsModule.forRoot({ url: 'redis://localhost:6379' })] })
 * export class AppModule {}
 */
@Module({})
export class RedisMetricsModule extends RedisMetricsConfigurableModule implements NestModule {
  constructor(
    // Both absent: the class itself was imported (`imports: [RedisMetricsModule]`), not forRoot().
    @Optional()
    @Inject(RequestMetricsInstaller)
    private readonly requestMetrics: RequestMetricsInstaller | undefined,
    @Optional() @Inject(RedisMetricsService) service: RedisMetricsService | undefined,
  ) {
    super();
    // Beside a global forRoot() (the service resolves) such an import adds nothing and does no harm.
    if (requestMetrics === undefined && service === undefined) {
      throw new RedisMetricsConfigError(
        'RedisMetricsModule',
        'is imported without forRoot() or forRootAsync(), and no forRoot() module is global: import ' +
          'RedisMetricsModule.forRoot() (or forRootAsync()) once, in the root module; feature modules ' +
          'then need no import to inject RedisMetricsService',
      );
    }
  }

  /** The module with options given in code, and the extras. */
  static override forRoot(options: typeof REDIS_METRICS_OPTIONS_TYPE): DynamicModule {
    checkForRootCall(options);
    return super.forRoot(options);
  }

  /** The module with options made by `useFactory`, `useClass` or `useExisting`, and the extras. */
  static override forRootAsync(options: typeof REDIS_METRICS_ASYNC_OPTIONS_TYPE): DynamicModule {
    checkForRootAsyncCall(options);
    return super.forRootAsync(options);
  }

  /**
   * @internal Installs the HTTP request metrics. Nest calls `configure()` after every provider is
   * made (so `forRootAsync` options are known) and before it registers any route or middleware.
   */
  configure(): void {
    this.requestMetrics?.install();
  }
}
