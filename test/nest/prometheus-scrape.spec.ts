import 'reflect-metadata';

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
import { waitFor } from '../harness/writer-processes.js';

@Controller()
class OrdersController {
  constructor(private readonly metrics: RedisMetricsService) {}
  @Post('orders')
  place(): string {
    this.metrics.counter({ name: 'orders_placed_total', help: 'Orders placed' }).inc();
    return 'ok';
  }
}

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
      await waitFor(
        async () => (await prometheus.query('orders_placed_total')).length === 1,
        20_000,
      );

      const [target] = await prometheus.targets();
      expect(target).toMatchObject({ health: 'up', lastError: '' });
      expect(acceptHeaders[0]).toMatch(/^application\/openmetrics-text/);
      const [sample] = await prometheus.query('orders_placed_total');
      expect(sample.value[1]).toBe('5');
      const [requests] = await prometheus.query('sum(http_requests_total{route="/orders"})');
      expect(requests.value[1]).toBe('5');
    } finally {
      await prometheus.stop();
      await app.close();
    }
  });
});
