import { ConfigurableModuleBuilder } from '@nestjs/common';

import { createRedisMetricsController } from './http/redis-metrics.controller.js';
import { REDIS_METRICS_MODULE_OPTIONS } from './redis-metrics.constants.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import {
  redisMetricsExports,
  redisMetricsProviders,
  requestMetricsProvider,
} from './redis-metrics.providers.js';

/**
 * What shapes the module itself rather than its behaviour; given to `forRoot` and `forRootAsync`
 * alongside the options, and known before any factory runs.
 */
export interface RedisMetricsModuleExtras {
  /** Make the module's providers visible to every module (default false). */
  isGlobal?: boolean;
  /** Serve the metrics and health routes (default true); false to serve them your own way. */
  controller?: boolean;
  /** Path of the metrics route (default `metrics`). */
  metricsPath?: string;
  /** Path of the health route (default `health`). */
  healthPath?: string;
}

/** The module's base class and option types, built the idiomatic NestJS way. */
export const {
  ConfigurableModuleClass: RedisMetricsConfigurableModule,
  OPTIONS_TYPE: REDIS_METRICS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_METRICS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisMetricsModuleOptions>({
  optionsInjectionToken: REDIS_METRICS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setExtras<RedisMetricsModuleExtras>(
    { isGlobal: false, controller: true, metricsPath: 'metrics', healthPath: 'health' },
    (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
      controllers: extras.controller
        ? [
            createRedisMetricsController({
              metricsPath: extras.metricsPath ?? 'metrics',
              healthPath: extras.healthPath ?? 'health',
            }),
          ]
        : [],
      providers: [
        ...(definition.providers ?? []),
        ...redisMetricsProviders,
        requestMetricsProvider(
          extras.controller ? [extras.metricsPath ?? 'metrics', extras.healthPath ?? 'health'] : [],
        ),
      ],
      exports: [...(definition.exports ?? []), ...redisMetricsExports],
    }),
  )
  .build();
