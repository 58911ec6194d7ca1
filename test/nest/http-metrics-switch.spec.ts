import 'reflect-metadata';

import { Controller, Get, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';

import { RedisMetricsModule, RedisStorageManager } from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';

@Controller('items')
class ItemsController {
  @Get(':id')
  get(): { ok: boolean } {
    return { ok: true };
  }
}

/** Names of the middleware in the Express app's stack, in order. */
const expressStack = (app: INestApplication) =>
  (
    app.getHttpAdapter().getInstance() as { router: { stack: { name: string }[] } }
  ).router.stack.map((layer) => layer.name);

describe('the httpMetrics option', () => {
  let client: Redis;
  const prefix = uniquePrefix('http-switch');

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  async function appWith(metricsModule: DynamicModule): Promise<INestApplication> {
    @Module({ imports: [metricsModule], controllers: [ItemsController] })
    class AppModule {}
    const testing = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = testing.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  const options = () => ({
    enabled: true,
    url: testRedisUrl(),
    keyPrefix: prefix,
    registry: new Registry(),
    defaultMetrics: false,
  });

  it.each([
    ['forRoot', () => RedisMetricsModule.forRoot({ ...options(), httpMetrics: false })],
    [
      'forRootAsync',
      () =>
        RedisMetricsModule.forRootAsync({
          useFactory: () => ({ ...options(), httpMetrics: false }),
        }),
    ],
  ])(
    'adds nothing to the request path and counts nothing when off (%s)',
    async (_how, makeModule) => {
      const app = await appWith(makeModule());
      try {
        await request(app.getHttpServer()).get('/items/42').expect(200);
        const manager = app.get(RedisStorageManager);
        expect(await manager.registry.getMetricsAsJSON()).toEqual([]);
        expect(expressStack(app)).not.toContain('requestMetricsMiddleware');
      } finally {
        await app.close();
      }
    },
  );

  it.each([
    ['forRoot', () => RedisMetricsModule.forRoot(options())],
    ['forRootAsync', () => RedisMetricsModule.forRootAsync({ useFactory: () => options() })],
  ])(
    'counts requests by default, with a middleware first in the stack (%s)',
    async (_how, makeModule) => {
      const app = await appWith(makeModule());
      try {
        expect(expressStack(app)[0]).toBe('requestMetricsMiddleware');
        await request(app.getHttpServer()).get('/items/42').expect(200);
        await new Promise((resolve) => setImmediate(resolve)); // counted once the response closed
        const manager = app.get(RedisStorageManager);
        const total = await manager.registry.getSingleMetric('http_requests_total')!.get();
        expect(total.values).toEqual([
          { labels: { method: 'GET', route: '/items/:id', status_code: '200' }, value: 1 },
        ]);
      } finally {
        await app.close();
      }
    },
  );
});
