import 'reflect-metadata';

import { jest } from '@jest/globals';
import { Controller, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Counter, Gauge, Registry } from 'prom-client';

import { ProcessIdentity, RedisMetricsModule, RedisMetricsService } from '../../src/index.js';
import { startPrometheus } from '../harness/prometheus-server.js';
import { testFlusher } from '../harness/test-flusher.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';
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
  const redis = useTestRedis();

  /**
   * The app, writing under `prefix`, under a real Prometheus: five orders placed and flushed, the
   * `Accept` of each scrape kept.
   */
  async function startScrapedApp(prefix: string) {
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
    const value = async (promql: string) =>
      (await prometheus.query(promql)).map((sample) => sample.value[1]);
    const targets = async () =>
      (await prometheus.targets()).map(({ health, lastError }) => ({ health, lastError }));
    const stop = async () => {
      await prometheus.stop();
      await app.close();
    };
    return { acceptHeaders, value, targets, stop };
  }

  it('negotiates OpenMetrics, parses every scrape and stores the merged counter', async () => {
    const { acceptHeaders, value, targets, stop } = await startScrapedApp(
      redis.prefix('prometheus'),
    );
    try {
      const expected = {
        targets: [{ health: 'up', lastError: '' }],
        orders: ['5'],
        requests: ['5'],
      };
      const reading = await settledReading(
        async () => ({
          targets: await targets(),
          orders: await value('orders_placed_total'),
          requests: await value('sum(http_requests_total{route="/orders"})'),
        }),
        expected,
      );
      expect(reading).toEqual(expected);
      expect(acceptHeaders[0]).toMatch(/^application\/openmetrics-text/);
    } finally {
      await stop();
    }
  });

  it('takes a counter renamed to `_total` since an older process counted as one series, summed, and a counter beside a gauge of its family name as two', async () => {
    // A process of the version before the rename counted 7 orders as `orders_placed`.
    const prefix = redis.prefix('prometheus-renamed');
    const older = new Registry();
    new Counter({ name: 'orders_placed', help: 'Orders placed', registers: [older] }).inc(7);
    // A gauge beside a counter of its OpenMetrics family name: two `# TYPE orders_open` families, as
    // prom-client writes them, which Prometheus stores both of.
    new Gauge({ name: 'orders_open', help: 'Orders open', registers: [older] }).set(2);
    new Counter({ name: 'orders_open_total', help: 'Orders opened', registers: [older] }).inc(3);
    await testFlusher(redis.client, prefix, older, {
      identity: ProcessIdentity.create({ hostname: 'old', pid: 7 }),
    }).flush();
    const { value, targets, stop } = await startScrapedApp(prefix);
    try {
      const expected = {
        targets: [{ health: 'up', lastError: '' }],
        orders: ['12'],
        open: ['2'],
        opened: ['3'],
      };
      const reading = await settledReading(
        async () => ({
          targets: await targets(),
          orders: await value('orders_placed_total'),
          open: await value('orders_open{hostname="old",pid="7"}'),
          opened: await value('orders_open_total'),
        }),
        expected,
      );
      expect(reading).toEqual(expected);
    } finally {
      await stop();
    }
  });
});
