import type { Provider } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

import { RedisMultiProcessCollector } from './aggregation/redis-multi-process-collector.js';
import { RequestMetricsInstaller } from './http/request-metrics.installer.js';
import { REDIS_METRICS_MODULE_OPTIONS } from './redis-metrics.constants.js';
import { checkFactoryResult } from './redis-metrics.module-call-check.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import { RedisMetricsService } from './redis-metrics.service.js';
import { RedisStorageManager } from './redis-storage-manager.js';

/** What the module provides, whichever way it was configured. */
export const redisMetricsProviders: Provider[] = [
  {
    provide: RedisStorageManager,
    // Made before anything else that reads the options, so a factory that returned none is named here.
    useFactory: (options: RedisMetricsModuleOptions | undefined) =>
      new RedisStorageManager(checkFactoryResult(options)),
    inject: [REDIS_METRICS_MODULE_OPTIONS],
  },
  {
    provide: RedisMetricsService,
    useFactory: (manager: RedisStorageManager, options: RedisMetricsModuleOptions) =>
      new RedisMetricsService(manager, options.customMetricPrefix),
    inject: [RedisStorageManager, REDIS_METRICS_MODULE_OPTIONS],
  },
  {
    // `undefined` when Redis storage is disabled.
    provide: RedisMultiProcessCollector,
    useFactory: (manager: RedisStorageManager) => manager.getCollector(),
    inject: [RedisStorageManager],
  },
];

/** Counts HTTP requests (when `httpMetrics` is not false), leaving the module's own routes out. */
export const requestMetricsProvider: Provider = {
  provide: RequestMetricsInstaller,
  useFactory: (host: HttpAdapterHost, service: RedisMetricsService, manager: RedisStorageManager) =>
    new RequestMetricsInstaller(host, service, manager.registry),
  inject: [HttpAdapterHost, RedisMetricsService, RedisStorageManager],
};

/** What the module exports to the modules that import it. */
export const redisMetricsExports = [
  RedisStorageManager,
  RedisMetricsService,
  RedisMultiProcessCollector,
];
