import {
  Controller,
  Get,
  Headers,
  Inject,
  Res,
  UseGuards,
  type CanActivate,
  type Type,
} from '@nestjs/common';

import { RedisStorageManager } from '../redis-storage-manager.js';
import { MetricsAuthGuard } from './metrics-auth.guard.js';
import { skipRequestMetrics } from './skip-request-metrics.js';

/** The parts of an Express response or a Fastify reply the controller uses. */
export interface HttpReply {
  status?: (code: number) => unknown;
  code?: (code: number) => unknown;
  setHeader?: (name: string, value: string) => unknown;
  header?: (name: string, value: string) => unknown;
}

function setHeader(reply: HttpReply, name: string, value: string): void {
  if (typeof reply.setHeader === 'function') reply.setHeader(name, value);
  else reply.header?.(name, value);
}

function setStatus(reply: HttpReply, code: number): void {
  if (typeof reply.code === 'function') reply.code(code);
  else reply.status?.(code);
}

/** The request headers, as Express and Fastify both give them (names in lower case). */
export type RequestHeaders = Record<string, string | string[] | undefined>;

function header(headers: RequestHeaders, name: string): string | undefined {
  const value = headers?.[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Serves `metrics()` (every process merged; OpenMetrics when the `Accept` header prefers it,
 * Prometheus text 0.0.4 otherwise) and `health()` (the state of the metrics storage; 503 when Redis is
 * configured but unreachable). Works on Express and Fastify.
 *
 * Extend it to customise the routes (Swagger decorators, guards, headers) and pass your class as the
 * module's `controller`: a method your class inherits is served at `metricsPath` / `healthPath` (under
 * the path, host and version of your class's `@Controller()`, if any), one it overrides is served
 * where its own decorators say. The module always adds the guard of its `auth`
 * option and its `guards` to your class.
 *
 * @example
 * @UseGuards(InternalNetworkGuard)
 * class MetricsController extends RedisMetricsController {}
 *
 * RedisMetricsModule.forRoot({ url, controller: MetricsController })
 */
export class RedisMetricsController {
  constructor(@Inject(RedisStorageManager) protected readonly manager: RedisStorageManager) {}

  /**
   * The exposition of every process merged; 503 with a one-line reason when that cannot be served
   * right (Redis unreadable or too slow, or still being rewritten after it lost data).
   */
  async metrics(
    @Headers() headers: RequestHeaders,
    @Res({ passthrough: true }) reply: HttpReply,
  ): Promise<string> {
    const response = await this.manager.metrics(
      header(headers, 'accept'),
      header(headers, 'x-prometheus-scrape-timeout-seconds'),
    );
    setStatus(reply, response.status);
    setHeader(reply, 'Content-Type', response.contentType);
    if (response.retryAfterSeconds !== undefined) {
      setHeader(reply, 'Retry-After', String(response.retryAfterSeconds));
    }
    return response.body;
  }

  /**
   * The state of the metrics storage, at once whatever Redis does: 200, or 503 when Redis is
   * configured but the last write failed or none was acknowledged for a while. For monitoring or a
   * readiness probe, never for liveness: a slow Redis must not restart a healthy app.
   */
  async health(@Res({ passthrough: true }) reply: HttpReply): Promise<unknown> {
    const health = await this.manager.health();
    setStatus(reply, health.status === 'degraded' ? 503 : 200);
    return health;
  }
}

/** Where the controller serves its two routes and who may call them. */
export interface RedisMetricsPaths {
  /** Path of the metrics route. */
  metricsPath: string;
  /** Path of the health route; `false` serves none. */
  healthPath: string | false;
  /** Your subclass of {@link RedisMetricsController}, default the class itself. */
  controller?: Type<RedisMetricsController>;
  /** Nest guards run before both routes, after the `auth` check. */
  guards?: (Type<CanActivate> | CanActivate)[];
}

/**
 * Makes the controller class the module registers: a subclass of `paths.controller` (default
 * {@link RedisMetricsController}) with the inherited routes at their paths and the `auth` guard plus
 * `paths.guards` in front of every route. A new class per module, so two apps in one process may use
 * different paths.
 */
export function createRedisMetricsController(paths: RedisMetricsPaths): Type<unknown> {
  const Base = paths.controller ?? RedisMetricsController;
  class RedisMetricsRoutes extends Base {}
  const routes: [keyof RedisMetricsController, string | false][] = [
    ['metrics', paths.metricsPath],
    ['health', paths.healthPath],
  ];
  for (const [method, path] of routes) {
    // A method the user's class overrides keeps the route its own decorators give it.
    if (Base.prototype[method] !== RedisMetricsController.prototype[method]) continue;
    const inherited = RedisMetricsController.prototype[method];
    // An own method for each route: route metadata lives on the function, which the base class shares.
    const descriptor: PropertyDescriptor = {
      value: function (this: RedisMetricsController, ...args: unknown[]) {
        return (inherited as (...a: unknown[]) => unknown).apply(this, args);
      },
      writable: true,
      configurable: true,
    };
    Object.defineProperty(RedisMetricsRoutes.prototype, method, descriptor);
    if (path !== false) Get(path)(RedisMetricsRoutes.prototype, method, descriptor);
  }
  // A class decorated with @Controller() passes every option it gave (path, host, version, scope) on
  // to this subclass through inherited metadata: Controller() here would write them all again, the
  // ones not given as undefined. '__controller__' is Nest's CONTROLLER_WATERMARK (not exported from
  // the package root of NestJS 11 and 12 alike).
  if (Reflect.getMetadata('__controller__', Base) !== true) Controller()(RedisMetricsRoutes);
  UseGuards(MetricsAuthGuard, ...(paths.guards ?? []))(RedisMetricsRoutes);
  skipRequestMetrics(RedisMetricsRoutes);
  return RedisMetricsRoutes;
}
