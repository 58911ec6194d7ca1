import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { Registry, RegistryContentType } from 'prom-client';

import type { RedisMetricsService } from '../redis-metrics.service.js';
import {
  expressRoutes,
  installExpressRequestMetrics,
  markExpressNotFound,
  skipExpressRoute,
  type ExpressApp,
} from './express-request-metrics.js';
import { installFastifyRequestMetrics, type FastifyApp } from './fastify-request-metrics.js';
import { RequestMetrics } from './request-metrics.js';
import { isSkippedRoute } from './skip-request-metrics.js';

/**
 * The registries each HTTP server counts requests into. A second forRoot() of the same registry (in a
 * feature module, say) would put its hooks on the server again, and every request would count twice
 * in the registry, then twice more when both managers flush it.
 */
const installedRegistries = new WeakMap<object, Set<Registry<RegistryContentType>>>();

/**
 * Puts the request metrics on the app's HTTP server: an Express middleware or Fastify hooks, which
 * cost a few microseconds per request, where a global Nest interceptor cost about 30 (rxjs on every
 * request; see docs/decisions.md). Nothing at all when `httpMetrics` is false.
 */
export class RequestMetricsInstaller implements OnApplicationBootstrap {
  private metrics: RequestMetrics | undefined;
  private declaredRoutes: () => [method: string, route: string][] = () => [];
  /** Registers one of the module's own routes with `register`, so that it is never counted. */
  private registerOwnRoute: (register: () => unknown, handler: unknown) => unknown = (register) =>
    register();
  /** The paths of the module's own GET routes (metrics, health), which are never counted. */
  private readonly ownRoutes = new Set<unknown>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly service: RedisMetricsService,
    /** The registry the metrics are counted in: installed once per HTTP server and registry. */
    private readonly registry: Registry<RegistryContentType>,
    private readonly logger: Pick<Logger, 'warn'> = new Logger('RedisMetrics'),
  ) {}

  /**
   * Installs the hooks, once. Called from the module's `configure()`, which Nest runs when the
   * options of `forRootAsync` are known and before it registers any route, so the hooks see every
   * request, matched or not.
   */
  install(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (this.metrics || !adapter || !this.service.countsHttp()) return;
    const server = adapter.getInstance<object>();
    const registries = installedRegistries.get(server) ?? new Set();
    if (registries.has(this.registry)) return;
    const metrics = new RequestMetrics(this.service);
    const type = adapter.getType();
    if (type === 'express') {
      const app = adapter.getInstance<ExpressApp>();
      installExpressRequestMetrics(app, metrics);
      markExpressNotFound(adapter);
      this.declaredRoutes = () => expressRoutes(app);
      this.registerOwnRoute = (register, handler) => {
        const registered = register();
        skipExpressRoute(app, handler);
        return registered;
      };
    } else if (type === 'fastify') {
      const { routes, skipRoutes } = installFastifyRequestMetrics(
        adapter.getInstance<FastifyApp>(),
        metrics,
      );
      this.declaredRoutes = () => routes;
      this.registerOwnRoute = (register) => skipRoutes(register);
    } else {
      this.logger.warn(
        `HTTP request metrics are counted on Express and Fastify, not on "${type}".`,
      );
      return;
    }
    this.metrics = metrics;
    installedRegistries.set(server, registries.add(this.registry));
    // Nest registers each GET route with the adapter's get(path, handler), the path as the platform
    // keeps it: the module's own routes are known exactly, whatever prefix, version or paths they got,
    // and so are the platform's routes that serve them, which the hooks leave out even when a guard
    // of the app's that runs before the module's (a global guard) answers them.
    const get = adapter.get.bind(adapter) as (...args: unknown[]) => unknown;
    adapter.get = (...args: unknown[]) => {
      const handler = args.at(-1);
      if (args.length < 2 || !isSkippedRoute(handler)) return get(...args);
      this.ownRoutes.add(args[0]);
      return this.registerOwnRoute(() => get(...args), handler);
    };
  }

  /** @internal Once the routes are registered: their failure series start at 0. */
  onApplicationBootstrap(): void {
    const metrics = this.metrics;
    if (!metrics) return;
    for (const [method, route] of this.declaredRoutes()) {
      // HEAD routes are GET routes answered without a body; the module's own routes are not counted.
      if (method === 'HEAD' || (method === 'GET' && this.ownRoutes.has(route))) continue;
      metrics.expectRoute(method, route);
    }
  }
}
