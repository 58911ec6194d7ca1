import {
  ConfigurableModuleBuilder,
  type CanActivate,
  type Provider,
  type Type,
} from '@nestjs/common';

import { RedisMetricsConfigError } from './errors.js';

import {
  createRedisMetricsController,
  type RedisMetricsController,
} from './http/redis-metrics.controller.js';
import { REDIS_METRICS_MODULE_OPTIONS } from './redis-metrics.constants.js';
import { checkModuleExtras } from './redis-metrics.module-options-check.js';
import type {
  RedisMetricsModuleOptions,
  RedisMetricsOptionsFactory,
} from './redis-metrics.module-options.js';
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
  /**
   * Make the module's providers (`RedisMetricsService`, what the `make*Provider` functions need) visible
   * to every module of the app (default true), so metrics work in feature modules with one `forRoot()`.
   */
  isGlobal?: boolean;
  /**
   * Serve the metrics and health routes (default true): `true` with the module's controller, a subclass
   * of `RedisMetricsController` to serve them with yours, `false` to serve them your own way.
   */
  controller?: boolean | Type<RedisMetricsController>;
  /** Path of the metrics route (default `metrics`). */
  metricsPath?: string;
  /**
   * Path of the module's health route (default `<metricsPath>/health`, so `/health` stays free for
   * your own or @nestjs/terminus's); `false` serves none.
   */
  healthPath?: string | false;
  /** Nest guards in front of the module's routes, beside the `auth` option (classes are made by Nest). */
  guards?: (Type<CanActivate> | CanActivate)[];
}

/** Where the module serves its routes. */
function pathsOf(extras: RedisMetricsModuleExtras): {
  metricsPath: string;
  healthPath: string | false;
} {
  const metricsPath = extras.metricsPath ?? 'metrics';
  return {
    metricsPath,
    healthPath: extras.healthPath ?? `${metricsPath.replace(/\/+$/, '')}/health`,
  };
}

/** The controller the extras ask for, if any. */
function controllersOf(extras: RedisMetricsModuleExtras): Type<unknown>[] {
  if (extras.controller === false) return [];
  return [
    createRedisMetricsController({
      ...pathsOf(extras),
      controller: extras.controller === true ? undefined : extras.controller,
      guards: extras.guards,
    }),
  ];
}

/**
 * With `controller: false` the module serves no route, so an `auth` option would guard nothing while
 * its user believes the routes served with `RedisStorageManager` protected: start-up stops instead.
 */
const authWithoutRoutesCheck: Provider = {
  provide: Symbol('redis-metrics-auth-without-routes-check'),
  inject: [REDIS_METRICS_MODULE_OPTIONS],
  useFactory: (options: RedisMetricsModuleOptions) => {
    if (options.auth === undefined) return true;
    throw new RedisMetricsConfigError(
      'option "auth"',
      "guards only the module's own routes, and controller: false serves none: guard the routes you serve with guards of your own, and leave auth out",
    );
  },
};

/** The module's base class and option types, built the idiomatic NestJS way. */
export const {
  ConfigurableModuleClass: RedisMetricsConfigurableModule,
  OPTIONS_TYPE: REDIS_METRICS_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: REDIS_METRICS_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<RedisMetricsModuleOptions>({
  optionsInjectionToken: REDIS_METRICS_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  // The method Nest calls on a useClass/useExisting factory: the one RedisMetricsOptionsFactory names.
  .setFactoryMethodName('create' satisfies keyof RedisMetricsOptionsFactory)
  .setExtras<RedisMetricsModuleExtras>(
    // Each extra is listed (the compiler holds it to that), so that Nest takes it out of forRoot()'s
    // options (see redis-metrics.module-options-check.ts).
    {
      isGlobal: true,
      controller: true,
      metricsPath: 'metrics',
      healthPath: undefined,
      guards: undefined,
    } satisfies Record<keyof RedisMetricsModuleExtras, unknown>,
    (definition, extras) => {
      checkModuleExtras(extras as Record<string, unknown>);
      return {
        ...definition,
        global: extras.isGlobal,
        controllers: controllersOf(extras),
        providers: [
          ...(definition.providers ?? []),
          ...redisMetricsProviders,
          requestMetricsProvider,
          ...(extras.controller === false ? [authWithoutRoutesCheck] : []),
        ],
        exports: [...(definition.exports ?? []), ...redisMetricsExports],
      };
    },
  )
  .build();

/**
 * What `RedisMetricsModule.forRootAsync()` takes: `imports`, `inject` and one of `useFactory`,
 * `useClass` or `useExisting`, beside the extras. For a helper of yours that builds it, as a config
 * module's `asProvider()` does.
 */
export type RedisMetricsModuleAsyncOptions = typeof REDIS_METRICS_ASYNC_OPTIONS_TYPE;
