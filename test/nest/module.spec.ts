import 'reflect-metadata';

import {
  Controller,
  Get,
  Injectable,
  Module,
  Param,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';
import request from 'supertest';

import { RedisMetricsModule, RedisMetricsService, RedisStorageManager } from '../../src/index.js';
import { PROM_CLIENT_DEFAULT_METRICS_LINT, promtoolCheck } from '../harness/promtool.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';

// An app written the way the README tells a user to: import the module, inject the service, scrape.
@Injectable()
class OrdersService {
  readonly placed: Counter<'shop'>;
  constructor(metrics: RedisMetricsService) {
    this.placed = metrics.counter({
      name: 'orders_placed_total',
      help: 'Orders placed',
      labelNames: ['shop'],
    });
  }
}

@Controller()
class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post('orders')
  place(): string {
    this.orders.placed.inc({ shop: 'north' });
    return 'ok';
  }

  @Get('items/:id')
  item(@Param('id') id: string): { id: string } {
    return { id };
  }
}

type Adapter = 'express' | 'fastify';

async function startApp(adapter: Adapter, prefix: string): Promise<INestApplication> {
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        url: testRedisUrl(),
        keyPrefix: prefix,
        registry: new Registry(),
      }),
    ],
    controllers: [OrdersController],
    providers: [OrdersService],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  await app.init();
  if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  // Bootstrap does not wait for Redis: the storage is up once its first write is acknowledged.
  await app.get(RedisStorageManager).setup();
  return app;
}

/** The lines of one metric family (its samples), from exposition text. */
function family(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function mediaType(header: string | undefined): string[] {
  const [type, ...parameters] = (header ?? '').split(';').map((part) => part.trim());
  return [type, ...parameters.sort()];
}

describe.each<Adapter>(['express', 'fastify'])('RedisMetricsModule on %s', (adapter) => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  function newPrefix(label: string): string {
    const prefix = uniquePrefix(`${adapter}-${label}`);
    prefixes.push(prefix);
    return prefix;
  }

  it('serves the counts of two app instances sharing one Redis, and keeps them in the totals after both closed', async () => {
    const prefix = newPrefix('two-apps');
    const first = await startApp(adapter, prefix);
    const second = await startApp(adapter, prefix);
    try {
      for (let i = 0; i < 3; i += 1)
        await request(first.getHttpServer()).post('/orders').expect(201);
      for (let i = 0; i < 4; i += 1)
        await request(second.getHttpServer()).post('/orders').expect(201);
      await first.get(RedisMetricsService).flush();
      await second.get(RedisMetricsService).flush();

      for (const app of [first, second]) {
        const response = await request(app.getHttpServer()).get('/metrics').expect(200);
        expect(mediaType(response.headers['content-type'])).toEqual([
          'text/plain',
          'charset=utf-8',
          'version=0.0.4',
        ]);
        expect(family(response.text, 'orders_placed_total')).toEqual([
          'orders_placed_total{shop="north"} 7',
        ]);
        expect(family(response.text, 'http_requests_total')).toEqual([
          'http_requests_total{method="POST",route="/orders",status_code="201"} 7',
        ]);
        expect(promtoolCheck(response.text)).toBe(PROM_CLIENT_DEFAULT_METRICS_LINT);
      }
      const health = await request(first.getHttpServer()).get('/metrics/health').expect(200);
      expect(health.body).toMatchObject({ status: 'up', liveProcesses: 2 });
    } finally {
      await first.close();
      await second.close();
    }
    expect(await client.zcard(`{${prefix}}:processes`)).toBe(0);
    expect(
      await client.hget(`{${prefix}}:totals`, '["orders_placed_total",{"shop":"north"}]'),
    ).toBe('v 7');
  });

  it('negotiates OpenMetrics from the Accept header', async () => {
    const app = await startApp(adapter, newPrefix('openmetrics'));
    try {
      await request(app.getHttpServer()).post('/orders').expect(201);
      await app.get(RedisMetricsService).flush();

      const response = await request(app.getHttpServer())
        .get('/metrics')
        .set('Accept', 'application/openmetrics-text; version=1.0.0, text/plain;q=0.5')
        .expect(200);

      expect(mediaType(response.headers['content-type'])).toEqual([
        'application/openmetrics-text',
        'charset=utf-8',
        'version=1.0.0',
      ]);
      expect(response.text.endsWith('# EOF\n')).toBe(true);
      expect(response.text).toContain(
        '# TYPE orders_placed counter\norders_placed_total{shop="north"} 1\n',
      );
    } finally {
      await app.close();
    }
  });

  it('negotiates with the weights of the Accept header and media types in any case', async () => {
    const app = await startApp(adapter, newPrefix('negotiation'));
    try {
      const served = async (accept: string) =>
        mediaType(
          (await request(app.getHttpServer()).get('/metrics').set('Accept', accept).expect(200))
            .headers['content-type'],
        )[0];

      expect(await served('application/openmetrics-text;q=0, text/plain;version=0.0.4')).toBe(
        'text/plain',
      );
      expect(await served('Application/OpenMetrics-Text; version=1.0.0')).toBe(
        'application/openmetrics-text',
      );
      expect(await served('application/openmetrics-text;q=0.3, text/plain;q=0.5')).toBe(
        'text/plain',
      );
      expect(await served('text/plain;q=0.5, application/openmetrics-text;Q=0.5')).toBe(
        'application/openmetrics-text',
      );
      expect(await served('application/openmetrics-text;q=0.2, */*;q=0.1')).toBe(
        'application/openmetrics-text',
      );
    } finally {
      await app.close();
    }
  });

  it('labels request metrics with the route template, not the raw URL, and leaves its own routes out', async () => {
    const app = await startApp(adapter, newPrefix('routes'));
    try {
      await request(app.getHttpServer()).get('/items/42').expect(200);
      await request(app.getHttpServer()).get('/items/7').expect(200);
      await request(app.getHttpServer()).get('/metrics/health').expect(200);
      await request(app.getHttpServer()).get('/metrics').expect(200);
      await app.get(RedisMetricsService).flush();

      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/items/:id",status_code="200"} 2',
      ]);
    } finally {
      await app.close();
    }
  });

  it('serves the rest of the scrape with status 200 when data under the prefix is bad', async () => {
    const prefix = newPrefix('bad');
    const app = await startApp(adapter, prefix);
    try {
      await request(app.getHttpServer()).post('/orders').expect(201);
      await app.get(RedisMetricsService).flush();
      await client.hset(`{${prefix}}:totals`, '["orders_placed_total",{"bad label":"x"}]', 'v 5');
      await client.hset(`{${prefix}}:metadata`, 'junk', 'not json');

      const response = await request(app.getHttpServer()).get('/metrics').expect(200);

      expect(family(response.text, 'orders_placed_total')).toEqual([
        'orders_placed_total{shop="north"} 1',
      ]);
    } finally {
      await app.close();
    }
  });
});
