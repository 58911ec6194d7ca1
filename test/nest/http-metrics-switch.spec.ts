import 'reflect-metadata';

import { Controller, Get, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
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

const interceptors = (module: DynamicModule) =>
  (module.providers ?? []).filter(
    (provider) => typeof provider === 'object' && provider.provide === APP_INTERCEPTOR,
  ).length;

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

  it('installs the request interceptor only when forRoot may count requests', () => {
    expect(interceptors(RedisMetricsModule.forRoot({}))).toBe(1);
    expect(interceptors(RedisMetricsModule.forRoot({ httpMetrics: true }))).toBe(1);
    expect(interceptors(RedisMetricsModule.forRoot({ httpMetrics: false }))).toBe(0);
    // Async options are known too late: the interceptor is there and decides per request.
    expect(
      interceptors(RedisMetricsModule.forRootAsync({ useFactory: () => ({ httpMetrics: false }) })),
    ).toBe(1);
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
  ])('counts no request when off (%s)', async (_how, makeModule) => {
    const app = await appWith(makeModule());
    try {
      await request(app.getHttpServer()).get('/items/42').expect(200);
      const manager = app.get(RedisStorageManager);
      expect(await manager.registry.getMetricsAsJSON()).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('counts requests by default', async () => {
    const app = await appWith(RedisMetricsModule.forRoot(options()));
    try {
      await request(app.getHttpServer()).get('/items/42').expect(200);
      const manager = app.get(RedisStorageManager);
      const total = await manager.registry.getSingleMetric('http_requests_total')!.get();
      expect(total.values).toEqual([
        { labels: { method: 'GET', route: '/items/:id', status_code: '200' }, value: 1 },
      ]);
    } finally {
      await app.close();
    }
  });
});
