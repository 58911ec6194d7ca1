import { Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';

import type { RedisMetricsService } from '../redis-metrics.service.js';
import {
  expressRoutes,
  installExpressRequestMetrics,
  markExpressNotFound,
  type ExpressApp,
} from './express-request-metrics.js';
import { installFastifyRequestMetrics, type FastifyApp } from './fastify-request-metrics.js';
import { RequestMetrics } from './request-metrics.js';

/**
 * Puts the request metrics on the app's HTTP server: an Express middleware or Fastify hooks, which
 * cost a few microseconds per request, where a global Nest interceptor cost about 30 (rxjs on every
 * request; see docs/decisions.md). Nothing at all when `httpMetrics` is false.
 */
export class RequestMetricsInstaller implements OnApplicationBootstrap {
  private metrics: RequestMetrics | undefined;
  private declaredRoutes: () => [method: string, route: string][] = () => [];

  /** `ownPaths`: the module's own routes (metrics, health), which are never counted. */
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly service: RedisMetricsService,
    private readonly ownPaths: string[],
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
    const metrics = new RequestMetrics(this.service);
    const type = adapter.getType();
    if (type === 'express') {
      const app = adapter.getInstance<ExpressApp>();
      installExpressRequestMetrics(app, metrics);
      markExpressNotFound(adapter);
      this.declaredRoutes = () => expressRoutes(app);
    } else if (type === 'fastify') {
      const routes = installFastifyRequestMetrics(adapter.getInstance<FastifyApp>(), metrics);
      this.declaredRoutes = () => routes;
    } else {
      this.logger.warn(
        `HTTP request metrics are counted on Express and Fastify, not on "${type}".`,
      );
      return;
    }
    this.metrics = metrics;
  }

  /** @internal Once the routes are registered: their failure series start at 0. */
  onApplicationBootstrap(): void {
    const metrics = this.metrics;
    if (!metrics) return;
    const own = this.ownPaths.map((path) => `/${path.replace(/^\/+|\/+$/g, '')}`);
    for (const [method, route] of this.declaredRoutes()) {
      // HEAD routes are GET routes answered without a body; the module's own routes are not counted
      // (matched by their end, as a global prefix or a version may come before them).
      if (method === 'HEAD' || (method === 'GET' && own.some((path) => route.endsWith(path)))) {
        continue;
      }
      metrics.expectRoute(method, route);
    }
  }
}
