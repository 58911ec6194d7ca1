import 'reflect-metadata';

import { get, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

import {
  All,
  Body,
  Controller,
  Get,
  Module,
  Param,
  Post,
  RequestMethod,
  ServiceUnavailableException,
  StreamableFile,
  UnauthorizedException,
  VersioningType,
  type CanActivate,
  type INestApplication,
  type Type,
} from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';

import {
  RedisMetricsModule,
  RedisMetricsService,
  RedisStorageManager,
  UNMATCHED_ROUTE,
} from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';

@Controller('items')
class ItemsController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }

  @Post()
  create(): string {
    return 'created';
  }

  @Get(':id/fail')
  fail(): never {
    throw new Error('boom');
  }

  @Get(':id/unavailable')
  unavailable(): never {
    throw new ServiceUnavailableException();
  }

  /** Answers when the test lets it (see `slowRoute`). */
  @Get(':id/slow')
  async slow(): Promise<string> {
    slowRoute.entered();
    await slowRoute.released;
    return 'late';
  }
}

@Controller('downloads')
class DownloadsController {
  /** Sends a first chunk, then its source fails: the server cuts the response short. */
  @Get(':id')
  cut(): StreamableFile {
    let sent = false;
    const source = new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push('first chunk\n');
        } else {
          setTimeout(() => this.destroy(new Error('source failed')), 20);
        }
      },
    });
    return new StreamableFile(source);
  }
}

@Controller('uploads')
class UploadsController {
  /** Reads the request's body, then answers when the test lets it (see `slowRoute`). */
  @Post(':id')
  async upload(@Body() body: unknown): Promise<unknown> {
    slowRoute.entered();
    await slowRoute.released;
    return body;
  }
}

/** Routes of the app's own that end as the module's do. */
@Controller('admin/orders')
class OrderStatsController {
  @Get('metrics')
  metrics(): string {
    return 'orders';
  }

  @Get('metrics/health')
  health(): string {
    return 'ok';
  }
}

/** A route of every method (`@All()`) next to a route of one. */
@Controller('echo')
class EchoController {
  @All()
  any(): string {
    return 'any';
  }

  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

/** Lets a test hold the slow route's answer back until its client has gone. */
const slowRoute = {
  entered: () => undefined as void,
  released: Promise.resolve(),
};

/**
 * Holds the slow routes' next answer: `entered` settles when a request reaches the handler, which
 * answers once `release()` is called.
 */
function holdSlowRoute(): { entered: Promise<void>; release: () => void } {
  let release!: () => void;
  slowRoute.released = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => (slowRoute.entered = resolve));
  return { entered, release };
}

/** Starts the app's server on a free loopback port and returns the port. */
async function listenOnPort(app: INestApplication): Promise<number> {
  await app.listen(0, '127.0.0.1');
  return (app.getHttpServer().address() as { port: number }).port;
}

@Controller('users')
class UsersController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({ controllers: [UsersController] })
class AdminModule {}

@Controller({ path: 'orders', version: '2' })
class OrdersV2Controller {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

type Adapter = 'express' | 'fastify';

/** A router of Express's own, mounted by the app before Nest's routes. */
interface ExpressRouter {
  get(path: string, handler: (req: unknown, res: { json(body: unknown): void }) => void): void;
}
const express = createRequire(import.meta.url)('express') as { Router(): ExpressRouter };

interface AppShape {
  /** Global prefix, URI versioning (default version 1) and a module mounted at /admin. */
  nested?: boolean;
  metricsPath?: string;
  healthPath?: string;
  /** A guard for every route, which runs before the module's own. */
  globalGuard?: CanActivate;
  /**
   * Versions in the `X-Api-Version` header, a controller of version 2, and the global prefix given
   * ('' for none) but for `POST /items`.
   */
  headerVersioned?: { globalPrefix: string };
  /** Controllers besides `ItemsController`. */
  controllers?: Type<unknown>[];
  /** The global prefix `api`, with these routes excluded from it. */
  excludedFromPrefix?: NonNullable<Parameters<INestApplication['setGlobalPrefix']>[1]>['exclude'];
  /**
   * A hook of the app's own that every request waits for, added before the module's: an async
   * `onRequest` hook on Fastify, a middleware on Express.
   */
  appHook?: () => Promise<void>;
}

/** The lines of one metric family in exposition text, sorted. */
function family(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .sort();
}

describe.each<Adapter>(['express', 'fastify'])('HTTP request metrics on %s', (adapter) => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  async function startApp(shape: AppShape = {}): Promise<INestApplication> {
    const prefix = uniquePrefix(`requests-${adapter}`);
    prefixes.push(prefix);
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          ...(shape.metricsPath ? { metricsPath: shape.metricsPath } : {}),
          ...(shape.healthPath ? { healthPath: shape.healthPath } : {}),
        }),
        ...(shape.nested
          ? [AdminModule, RouterModule.register([{ path: 'admin', module: AdminModule }])]
          : []),
      ],
      controllers: [
        ItemsController,
        ...(shape.headerVersioned ? [OrdersV2Controller] : []),
        ...(shape.controllers ?? []),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app =
      adapter === 'fastify'
        ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
        : moduleRef.createNestApplication({ logger: false });
    if (shape.globalGuard) app.useGlobalGuards(shape.globalGuard);
    const appHook = shape.appHook;
    if (appHook && adapter === 'fastify') {
      type Fastify = { addHook(name: 'onRequest', hook: () => Promise<void>): void };
      (app.getHttpAdapter().getInstance() as Fastify).addHook('onRequest', appHook);
    } else if (appHook) {
      app.use((_req: unknown, _res: unknown, next: () => void) => void appHook().then(next));
    }
    if (shape.excludedFromPrefix) {
      app.setGlobalPrefix('api', { exclude: shape.excludedFromPrefix });
    }
    if (shape.headerVersioned) {
      const { globalPrefix } = shape.headerVersioned;
      if (globalPrefix) {
        app.setGlobalPrefix(globalPrefix, {
          exclude: [{ path: 'items', method: RequestMethod.POST }],
        });
      }
      app.enableVersioning({ type: VersioningType.HEADER, header: 'X-Api-Version' });
    }
    if (shape.nested) {
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
      // A router of the platform's own, outside Nest, mounted at /legacy.
      if (adapter === 'express') {
        const router = express.Router();
        router.get('/things/:id', (_req, res) => res.json({ ok: true }));
        app.use('/legacy', router);
      } else {
        type Fastify = {
          register(
            plugin: (instance: {
              get(path: string, handler: () => unknown): void;
            }) => Promise<void>,
            options: { prefix: string },
          ): void;
        };
        (app.getHttpAdapter().getInstance() as Fastify).register(
          async (instance) => {
            instance.get('/things/:id', () => ({ ok: true }));
          },
          { prefix: '/legacy' },
        );
      }
    }
    await app.init();
    if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
    return app;
  }

  /**
   * Waits (up to 2 s) until this process's in-flight gauge is back at 0, after a client went away;
   * returns its value then.
   */
  async function inFlightBackToZero(app: INestApplication): Promise<number | undefined> {
    const registry = app.get(RedisStorageManager).registry;
    const inFlight = async () =>
      (await registry.getSingleMetric('http_requests_in_flight')!.get()).values[0]?.value;
    for (let waited = 0; (await inFlight()) !== 0 && waited < 2000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return inFlight();
  }

  /** Flushes to Redis and reads the merged exposition back through the module's route. */
  async function scrape(app: INestApplication, path = '/metrics'): Promise<string> {
    // The hooks count a request when its response has closed, a moment after the client has it.
    await new Promise((resolve) => setImmediate(resolve));
    await app.get(RedisMetricsService).flush();
    return (await request(app.getHttpServer()).get(path).expect(200)).text;
  }

  it('counts by method, route template and status; 5xx as failures; a 404 once under the fixed route; not its own routes', async () => {
    const app = await startApp();
    try {
      const http = () => request(app.getHttpServer());
      await http().get('/items/42').expect(200);
      await http().get('/items/7').expect(200);
      await http().post('/items').expect(201);
      await http().get('/items/1/fail').expect(500);
      await http().get('/items/1/unavailable').expect(503);
      await http().get('/no/such/page/31337').expect(404);
      await http().get('/metrics/health'); // 200, or 503 before the first write: not counted either way
      await http().get('/metrics').expect(200);

      const text = await scrape(app);

      expect(UNMATCHED_ROUTE).toBe('<unmatched>');
      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/items/:id",status_code="200"} 2',
        'http_requests_total{method="GET",route="/items/:id/fail",status_code="500"} 1',
        'http_requests_total{method="GET",route="/items/:id/unavailable",status_code="503"} 1',
        'http_requests_total{method="GET",route="<unmatched>",status_code="404"} 1',
        'http_requests_total{method="POST",route="/items",status_code="201"} 1',
      ]);
      expect(family(text, 'http_requests_failed_total')).toEqual([
        'http_requests_failed_total{method="GET",route="/items/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/fail",status_code="500"} 1',
        'http_requests_failed_total{method="GET",route="/items/:id/slow",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/unavailable",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/unavailable",status_code="503"} 1',
        'http_requests_failed_total{method="POST",route="/items",status_code="500"} 0',
      ]);
      expect(
        family(text, 'http_request_duration_seconds_count').filter((line) =>
          line.includes('route="/items/:id"'),
        ),
      ).toEqual([
        'http_request_duration_seconds_count{method="GET",route="/items/:id",status_code="200"} 2',
      ]);
      expect(family(text, 'http_requests_in_flight')).toEqual([
        'http_requests_in_flight{method="GET"} 0',
        'http_requests_in_flight{method="POST"} 0',
      ]);
    } finally {
      await app.close();
    }
  });

  it("has every route's failure series at 0 before the first request, the app's routes that end as the module's included", async () => {
    const app = await startApp({ controllers: [OrderStatsController] });
    try {
      const text = await scrape(app);

      expect(family(text, 'http_requests_failed_total')).toEqual([
        'http_requests_failed_total{method="GET",route="/admin/orders/metrics",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/admin/orders/metrics/health",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/fail",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/slow",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/unavailable",status_code="500"} 0',
        'http_requests_failed_total{method="POST",route="/items",status_code="500"} 0',
      ]);
      expect(family(text, 'http_requests_total')).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('has no failure series at 0 for a route of every method (@All), on Express as on Fastify, and counts it by the method asked', async () => {
    // Express 5 spells app.all() as one route of each of its 34 methods: each had a series at 0.
    const app = await startApp({ controllers: [EchoController] });
    try {
      await request(app.getHttpServer()).delete('/echo').expect(200);

      const text = await scrape(app);

      expect(family(text, 'http_requests_failed_total')).toEqual([
        'http_requests_failed_total{method="GET",route="/echo/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/fail",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/slow",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/unavailable",status_code="500"} 0',
        'http_requests_failed_total{method="POST",route="/items",status_code="500"} 0',
      ]);
      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="DELETE",route="/echo",status_code="200"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it('has failure series for the routes excluded from the global prefix, not for every method Nest answers 404 to there', async () => {
    // Nest's Express adapter mounts its not-found handler on each excluded path with app.all(),
    // which Express 5 registers as a route of each of its 34 methods: they are not routes of the app.
    const app = await startApp({
      excludedFromPrefix: [
        'metrics',
        'metrics/health',
        { path: 'items', method: RequestMethod.POST },
      ],
    });
    try {
      const http = () => request(app.getHttpServer());
      await http().post('/items').expect(201);
      await http().delete('/items').expect(404);
      await http().post('/metrics').expect(404);

      const text = await scrape(app);

      expect(family(text, 'http_requests_failed_total')).toEqual([
        'http_requests_failed_total{method="GET",route="/api/items/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/api/items/:id/fail",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/api/items/:id/slow",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/api/items/:id/unavailable",status_code="500"} 0',
        'http_requests_failed_total{method="POST",route="/items",status_code="500"} 0',
      ]);
      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="DELETE",route="<unmatched>",status_code="404"} 1',
        'http_requests_total{method="POST",route="/items",status_code="201"} 1',
        'http_requests_total{method="POST",route="<unmatched>",status_code="404"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it('labels routes with the global prefix, the version and module paths, and routers of the platform', async () => {
    const app = await startApp({
      nested: true,
      metricsPath: 'internal/prom',
      healthPath: 'internal/up',
    });
    try {
      const http = () => request(app.getHttpServer());
      await http().get('/api/v1/admin/users/5').expect(200);
      await http().get('/api/v1/items/3').expect(200);
      await http().get('/legacy/things/9').expect(200);
      await http().get('/items/3').expect(404);
      await http().get('/api/v1/internal/up');

      const text = await scrape(app, '/api/v1/internal/prom');

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/api/v1/admin/users/:id",status_code="200"} 1',
        'http_requests_total{method="GET",route="/api/v1/items/:id",status_code="200"} 1',
        'http_requests_total{method="GET",route="/legacy/things/:id",status_code="200"} 1',
        'http_requests_total{method="GET",route="<unmatched>",status_code="404"} 1',
      ]);
      // The module's own routes get no failure series either.
      expect(
        family(text, 'http_requests_failed_total').filter((line) => line.includes('internal')),
      ).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it.each(['api', ''])(
    'counts a request no route answered under <unmatched> (global prefix %j): an unknown path, a version no handler has, a method an excluded route lacks',
    async (globalPrefix) => {
      const app = await startApp({ headerVersioned: { globalPrefix } });
      const at = (path: string) => (globalPrefix ? `/${globalPrefix}${path}` : path);
      try {
        const http = () => request(app.getHttpServer());
        await http().get(at('/zzz')).expect(404);
        await http().get(at('/orders/1')).set('X-Api-Version', '2').expect(200);
        await http().get(at('/orders/1')).set('X-Api-Version', '3').expect(404);
        await http().post('/items').expect(201);
        await http().get('/items').expect(404);

        const text = await scrape(app, at('/metrics'));

        expect(family(text, 'http_requests_total')).toEqual([
          `http_requests_total{method="GET",route="${at('/orders/:id')}",status_code="200"} 1`,
          'http_requests_total{method="GET",route="<unmatched>",status_code="404"} 3',
          'http_requests_total{method="POST",route="/items",status_code="201"} 1',
        ]);
      } finally {
        await app.close();
      }
    },
  );

  it('counts a malformed body: before routing on Express, on its route on Fastify', async () => {
    const app = await startApp();
    try {
      await request(app.getHttpServer())
        .post('/items')
        .set('Content-Type', 'application/json')
        .send('{"not json')
        .expect(400);

      const text = await scrape(app);

      expect(family(text, 'http_requests_total')).toEqual([
        adapter === 'express'
          ? 'http_requests_total{method="POST",route="<unmatched>",status_code="400"} 1'
          : 'http_requests_total{method="POST",route="/items",status_code="400"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it('counts a request whose client went away before the answer once, as 499, and no longer in flight', async () => {
    const app = await startApp();
    try {
      const port = await listenOnPort(app);
      const { entered, release } = holdSlowRoute();
      const client = get({ host: '127.0.0.1', port, path: '/items/1/slow' });
      client.on('error', () => undefined);
      await entered;
      client.destroy();
      await inFlightBackToZero(app);
      release(); // the handler answers now, to nobody
      await new Promise((resolve) => setTimeout(resolve, 50));

      const text = await scrape(app);

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/items/:id/slow",status_code="499"} 1',
      ]);
      expect(family(text, 'http_requests_in_flight')).toEqual([
        'http_requests_in_flight{method="GET"} 0',
      ]);
    } finally {
      await app.close();
    }
  });

  it("counts a request whose client went away while a hook of the app's ran first once, as 499, and never in flight", async () => {
    let entered!: () => void;
    const inAppHook = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const app = await startApp({
      appHook: async () => {
        entered();
        await released;
      },
    });
    try {
      const port = await listenOnPort(app);
      const client = httpRequest({ host: '127.0.0.1', port, path: '/items/1', method: 'GET' });
      client.on('error', () => undefined);
      client.end();
      await inAppHook;
      client.destroy();
      const registry = app.get(RedisStorageManager).registry;
      const values = async (name: string) =>
        (await registry.getSingleMetric(name)!.get()).values.map(({ labels, value }) => ({
          ...labels,
          value,
        }));
      // The server has seen the connection close: the request is counted.
      for (let waited = 0; (await values('http_requests_total')).length === 0 && waited < 2000;) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        waited += 10;
      }
      release(); // the hooks after the app's run now, for a client that has gone
      await new Promise((resolve) => setTimeout(resolve, 100));

      // On Fastify the module's onRequest hook ran after the client had gone and counted the request
      // in flight, for good: [{ method: 'GET', value: 1 }].
      expect(await values('http_requests_in_flight')).toEqual(
        adapter === 'fastify' ? [] : [{ method: 'GET', value: 0 }],
      );
      expect(await values('http_requests_total')).toEqual([
        {
          method: 'GET',
          // Express's router had not matched the request yet when it closed.
          route: adapter === 'fastify' ? '/items/:id' : '<unmatched>',
          status_code: '499',
          value: 1,
        },
      ]);
    } finally {
      release();
      await app.close();
    }
  });

  it('counts a request whose body was read and whose client went away before the answer once, as 499, and no longer in flight', async () => {
    const app = await startApp({ controllers: [UploadsController] });
    try {
      const port = await listenOnPort(app);
      const { entered, release } = holdSlowRoute();
      const client = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/uploads/1',
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
      });
      client.on('error', () => undefined);
      client.end('{"size":1}');
      await entered; // the body has been parsed: Node no longer calls the request aborted
      client.destroy();
      expect(await inFlightBackToZero(app)).toBe(0);
      release(); // the handler answers now, to nobody
      await new Promise((resolve) => setTimeout(resolve, 50));

      const text = await scrape(app);

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="POST",route="/uploads/:id",status_code="499"} 1',
      ]);
      expect(family(text, 'http_requests_in_flight')).toEqual([
        'http_requests_in_flight{method="GET"} 0',
        'http_requests_in_flight{method="POST"} 0',
      ]);
    } finally {
      await app.close();
    }
  });

  it('counts a response the server cut short as a failure with status 500, and one whose client reset the connection as 499', async () => {
    const app = await startApp({ controllers: [DownloadsController] });
    try {
      const port = await listenOnPort(app);
      // A client that goes away with a reset rather than closing its end of the connection.
      const { entered, release } = holdSlowRoute();
      const resetting = get({ host: '127.0.0.1', port, path: '/items/1/slow' });
      resetting.on('error', () => undefined);
      await entered;
      resetting.socket!.resetAndDestroy();
      await inFlightBackToZero(app);
      release();
      // The client reads until the server closes the connection, and never goes away itself.
      const received = await new Promise<{ status?: number; body: string; aborted: boolean }>(
        (resolve) => {
          const client = get({ host: '127.0.0.1', port, path: '/downloads/1' }, (response) => {
            let body = '';
            let aborted = false;
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (body += chunk));
            response.on('aborted', () => (aborted = true));
            response.on('error', () => undefined);
            response.on('close', () => resolve({ status: response.statusCode, body, aborted }));
          });
          client.on('error', () => undefined);
        },
      );
      expect(received).toEqual({ status: 200, body: 'first chunk\n', aborted: true });
      await inFlightBackToZero(app);

      const text = await scrape(app);

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/downloads/:id",status_code="500"} 1',
        'http_requests_total{method="GET",route="/items/:id/slow",status_code="499"} 1',
      ]);
      expect(
        family(text, 'http_requests_failed_total').filter((line) => line.includes('/downloads')),
      ).toEqual([
        'http_requests_failed_total{method="GET",route="/downloads/:id",status_code="500"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it("does not count its own routes when a global guard turns them away before the module's guard runs", async () => {
    // An app-wide guard (an APP_GUARD of an auth library, say) runs before the module's own guard,
    // which is what marked the module's routes: what it turned away there was counted.
    const globalGuard: CanActivate = {
      canActivate(context) {
        const { headers } = context
          .switchToHttp()
          .getRequest<{ headers: Record<string, unknown> }>();
        if (headers['x-user'] === undefined) throw new UnauthorizedException();
        return true;
      },
    };
    const app = await startApp({ globalGuard });
    try {
      const http = () => request(app.getHttpServer());
      await http().get('/metrics').expect(401);
      await http().head('/metrics').expect(401);
      await http().get('/metrics/health').expect(401);
      await http().get('/items/1').expect(401);
      await new Promise((resolve) => setImmediate(resolve));
      await app.get(RedisMetricsService).flush();

      const text = (await http().get('/metrics').set('x-user', 'prometheus').expect(200)).text;

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/items/:id",status_code="401"} 1',
      ]);
      expect(family(text, 'http_requests_failed_total')).toEqual([
        'http_requests_failed_total{method="GET",route="/items/:id",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/fail",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/slow",status_code="500"} 0',
        'http_requests_failed_total{method="GET",route="/items/:id/unavailable",status_code="500"} 0',
        'http_requests_failed_total{method="POST",route="/items",status_code="500"} 0',
      ]);
    } finally {
      await app.close();
    }
  });

  it('a scrape whose client went away while a global guard held it leaves the in-flight gauge once', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const holding = new Promise<void>((resolve) => (held = resolve));
    let first = true;
    // Holds the first request, the scrape below, before the module's guard can run.
    const globalGuard: CanActivate = {
      async canActivate() {
        if (first) {
          first = false;
          held();
          await released;
        }
        return true;
      },
    };
    const app = await startApp({ globalGuard });
    try {
      const port = await listenOnPort(app);
      const client = get({ host: '127.0.0.1', port, path: '/metrics' });
      client.on('error', () => undefined);
      await holding;
      client.destroy();
      expect(await inFlightBackToZero(app)).toBe(0); // the hooks saw the client go
      release(); // the module's guard runs now, for a request that already left
      await new Promise((resolve) => setTimeout(resolve, 50));

      const text = await scrape(app);

      expect(family(text, 'http_requests_in_flight')).toEqual([
        'http_requests_in_flight{method="GET"} 0',
      ]);
    } finally {
      release();
      await app.close();
    }
  });
});
