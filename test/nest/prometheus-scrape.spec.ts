import 'reflect-metadata';

import { jest } from '@jest/globals';
import { Controller, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';

import { RedisMetricsModule, RedisMetricsService } from '../../src/index.js';
import { startPrometheus } from '../harness/prometheus-server.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { settledReading } from '../harness/writer-processes.js';

@Controller()
class OrdersController {
  constructor(private readonly metrics: RedisMetricsService) {}
  @Post('orders')
  place(): string {
    this.metrics.counter({ name: 'orders_placed_total', help: 'Orders placed' }).inc();
    return 'ok';
  }
}

// A real Prometheus: up to 20 s to start, then up to 20 s for its scrapes to settle.
jest.setTimeout(60_000);

describe('a real Prometheus scraping the module', () => {
  let client: Redis;
  const prefix = uniquePrefix('prometheus');

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  it('negotiates OpenMetrics, parses every scrape and stores the merged counter', async () => {
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          flushIntervalMs: 100,
        }),
      ],
      controllers: [OrdersController],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    const acceptHeaders: string[] = [];
    app.use(
      (req: { path: string; headers: Record<string, string> }, _res: unknown, next: () => void) => {
        if (req.path === '/metrics') acceptHeaders.push(req.headers.accept);
        next();
      },
    );
    await app.listen(0, '127.0.0.1');
    const appUrl = await app.getUrl();
    for (let i = 0; i < 5; i += 1) await fetch(`${appUrl}/orders`, { method: 'POST' });
    await app.get(RedisMetricsService).flush();
    const prometheus = await startPrometheus(`${appUrl}/metrics`);
    try {
      const value = async (promql: string) =>
        (await prometheus.query(promql)).map((sample) => sample.value[1]);
      const expected = {
        targets: [{ health: 'up', lastError: '' }],
        orders: ['5'],
        requests: ['5'],
      };
      const reading = await settledReading(
        async () => ({
          targets: (await prometheus.targets()).map(({ health, lastError }) => ({
            health,
            lastError,
          })),
          orders: await value('orders_placed_total'),
          requests: await value('sum(http_requests_total{route="/orders"})'),
        }),
        expected,
      );
      expect(reading).toEqual(expected);
      expect(acceptHeaders[0]).toMatch(/^application\/openmetrics-text/);
    } finally {
      await prometheus.stop();
      await app.close();
    }
  });
});
