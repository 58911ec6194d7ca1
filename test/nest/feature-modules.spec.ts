import 'reflect-metadata';

import { jest } from '@jest/globals';
import { Controller, Get, Injectable, Logger, Module, Post, type Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry, type Counter, type Gauge } from 'prom-client';
import request from 'supertest';

import {
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  RedisMetricsModule,
  RedisMetricsService,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
  useTestRedis,
} from '../harness/test-redis.js';

/** The lines of one metric family (its samples), from exposition text. */
function family(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

/** Something a feature module owns, read by a gauge's `collect`. */
@Injectable()
class JobQueue {
  depth = 0;
}

// A feature module that imports nothing of the metrics module: the service and the providers resolve
// because the root module's forRoot() is global, as @willsoto/nestjs-prometheus's providers work anywhere.
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
  constructor(
    private readonly orders: OrdersService,
    @InjectMetric('jobs_running') private readonly running: Gauge<string>,
    @InjectMetric('jobs_done_total') private readonly done: Counter<string>,
  ) {}

  @Post('orders')
  place(): string {
    this.orders.placed.inc({ shop: 'north' });
    this.running.set(3);
    this.done.inc(2);
    return 'ok';
  }
}

@Module({
  controllers: [OrdersController],
  providers: [
    OrdersService,
    JobQueue,
    makeGaugeProvider({ name: 'jobs_running', help: 'Jobs running', multiprocessMode: 'livesum' }),
    makeCounterProvider({ name: 'jobs_done_total', help: 'Jobs done' }),
    makeGaugeProvider({
      name: 'jobs_waiting',
      help: 'Jobs waiting',
      multiprocessMode: 'livesum',
      inject: [JobQueue],
      collect(this: Gauge, queue: JobQueue) {
        this.set(queue.depth);
      },
    }),
  ],
})
class OrdersModule {}

describe('metrics from feature modules of an app that imports forRoot() once', () => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  async function startApp(options: RedisMetricsModuleOptions) {
    const prefix = uniquePrefix('feature');
    prefixes.push(prefix);
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
          ...options,
        }),
        OrdersModule,
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('injects the service, make*Provider metrics and a collect with injected providers in a feature module', async () => {
    const app = await startApp({});
    try {
      app.get(JobQueue).depth = 5;
      await request(app.getHttpServer()).post('/orders').expect(201);
      await request(app.getHttpServer()).post('/orders').expect(201);
      await app.get(RedisMetricsService).flush();

      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

      expect(family(text, 'orders_placed_total')).toEqual(['orders_placed_total{shop="north"} 2']);
      expect(family(text, 'jobs_running')).toEqual(['jobs_running 3']);
      expect(family(text, 'jobs_done_total')).toEqual(['jobs_done_total 4']);
      expect(family(text, 'jobs_waiting')).toEqual(['jobs_waiting 5']);
    } finally {
      await app.close();
    }
  });

  it('applies customMetricPrefix, defaultLabels and defaultMetrics { enabled, config } like willsoto', async () => {
    const app = await startApp({
      customMetricPrefix: 'shop',
      defaultLabels: { app: 'shop' },
      defaultMetrics: { enabled: true, config: { prefix: 'shop_node_' } },
    });
    try {
      await request(app.getHttpServer()).post('/orders').expect(201);
      await app.get(RedisMetricsService).flush();

      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;

      expect(family(text, 'shop_orders_placed_total')).toEqual([
        'shop_orders_placed_total{app="shop",shop="north"} 1',
      ]);
      // @InjectMetric keeps the name without the prefix; the registry has it with the prefix.
      expect(family(text, 'shop_jobs_done_total')).toEqual(['shop_jobs_done_total{app="shop"} 2']);
      expect(family(text, 'shop_jobs_running')).toEqual(['shop_jobs_running{app="shop"} 3']);
      expect(family(text, 'orders_placed_total')).toEqual([]);
      expect(family(text, 'shop_node_process_cpu_user_seconds_total')).toHaveLength(1);
      expect(family(text, 'process_cpu_user_seconds_total')).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it('deletes counts through the service by the name a metric was made with, the prefix and default labels added', async () => {
    const app = await startApp({ customMetricPrefix: 'shop', defaultLabels: { app: 'shop' } });
    try {
      const metrics = app.get(RedisMetricsService);
      await request(app.getHttpServer()).post('/orders').expect(201);
      await request(app.getHttpServer()).post('/orders').expect(201);
      await metrics.flush();
      const orders = async () =>
        family(
          (await request(app.getHttpServer()).get('/metrics').expect(200)).text,
          'shop_orders_placed_total',
        );
      expect(await orders()).toEqual(['shop_orders_placed_total{app="shop",shop="north"} 2']);

      expect(await metrics.deleteCounts('orders_placed_total', { shop: 'south' })).toBe(0);
      expect(await metrics.deleteCounts('orders_placed_total', { shop: 'north' })).toBe(1);
      expect(await orders()).toEqual([]);
      // This process still counts the series: it comes back from about zero.
      await request(app.getHttpServer()).post('/orders').expect(201);
      await metrics.flush();
      expect(await orders()).toEqual(['shop_orders_placed_total{app="shop",shop="north"} 1']);
    } finally {
      await app.close();
    }
  });

  it("merges a gauge in the mode the option gaugeModes gives it, over its mode in code, the module's own in-flight gauge too", async () => {
    const app = await startApp({
      identity: { hostname: 'web-1', pid: 41 },
      httpMetrics: true,
      gaugeModes: { carts_open: 'liveall', http_requests_in_flight: 'liveall' },
    });
    try {
      const metrics = app.get(RedisMetricsService);
      metrics.gauge({ name: 'carts_open', help: 'Open carts', multiprocessMode: 'max' }).set(4);
      await request(app.getHttpServer()).post('/orders').expect(201);
      await metrics.flush();
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      // In the code's modes (max, livesum) both would be one series without the process's labels.
      expect(family(text, 'carts_open')).toEqual(['carts_open{pid="41",hostname="web-1"} 4']);
      const posts = family(text, 'http_requests_in_flight').filter((line) =>
        line.includes('method="POST"'),
      );
      expect(posts).toEqual(['http_requests_in_flight{method="POST",pid="41",hostname="web-1"} 0']);
      const manager = app.get(RedisStorageManager);
      expect(manager.gaugeModeOf('carts_open')).toBe('liveall');
      expect(manager.gaugeModeOf('http_requests_in_flight')).toBe('liveall');
    } finally {
      await app.close();
    }
  });

  it('logs once that the option gaugeModes overrides the mode a gauge was made with', () => {
    const lines: string[] = [];
    const log = (line: string) => void lines.push(line);
    const manager = new RedisStorageManager(
      { enabled: false, registry: new Registry(), gaugeModes: { carts_open: 'liveall' } },
      { log, warn: log, error: log },
    );
    manager.setGaugeMode('carts_open', 'max');
    manager.setGaugeMode('carts_open', 'max');
    manager.setGaugeMode('carts_open', 'liveall');
    manager.setGaugeMode('constructor', 'min');
    expect(lines).toEqual([
      'gauge "carts_open" is merged in the mode "liveall" that the module option gaugeModes gives it, not in the multiprocessMode "max" it was made with',
    ]);
    expect(manager.gaugeModeOf('carts_open')).toBe('liveall');
    expect(manager.gaugeModeOf('constructor')).toBe('min');
  });

  it('warns once when gaugeModes names a gauge by the name it was made with, not its name with customMetricPrefix', async () => {
    // The entry gives the gauge no mode: it was ignored without a word, and the gauge merged in its
    // mode in code (here max, one series) where the deployment asked for one series per process.
    const lines: string[] = [];
    const warn = jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => void lines.push(String(message)));
    const app = await startApp({
      identity: { hostname: 'web-1', pid: 42 },
      customMetricPrefix: 'shop',
      gaugeModes: { carts_open: 'liveall' },
    });
    try {
      const metrics = app.get(RedisMetricsService);
      metrics.gauge({ name: 'carts_open', help: 'Open carts', multiprocessMode: 'max' }).set(4);
      metrics.gauge({ name: 'carts_open', help: 'Open carts' });
      await metrics.flush();
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      expect(family(text, 'shop_carts_open')).toEqual(['shop_carts_open 4']);
      expect(lines.filter((line) => line.includes('gaugeModes'))).toEqual([
        'the module option gaugeModes names "carts_open", the name the gauge "shop_carts_open" was made with: gaugeModes takes the name in the registry, with customMetricPrefix, so the gauge is merged in the mode "max", not "liveall" (name it "shop_carts_open" in gaugeModes)',
      ]);
    } finally {
      warn.mockRestore();
      await app.close();
    }
  });

  it('collects no default metrics with defaultMetrics: { enabled: false }', async () => {
    const app = await startApp({ defaultMetrics: { enabled: false } });
    try {
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      expect(text).not.toContain('process_cpu_user_seconds_total');
    } finally {
      await app.close();
    }
  });
});

describe('one metric name asked for twice', () => {
  const prefix = useTestRedis().prefix('same-name');

  async function startApp(module?: object) {
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
          customMetricPrefix: 'shop',
        }),
        ...(module ? [module as never] : []),
      ],
    })
    class SameNameAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [SameNameAppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return app;
  }

  it('shares a metric asked for with the same type and label names, and refuses another type or other label names at the call', async () => {
    const app = await startApp();
    try {
      const metrics = app.get(RedisMetricsService);
      // Label names in another order are the same labels.
      const first = metrics.counter({ name: 'y_total', help: 'a', labelNames: ['shop', 'region'] });
      const again = metrics.counter({ name: 'y_total', help: 'b', labelNames: ['region', 'shop'] });
      expect(again).toBe(first);
      again.inc({ shop: 'north', region: 'eu' }, 2);

      metrics.counter({ name: 'x_total', help: 'a' });
      expect(() => metrics.gauge({ name: 'x_total', help: 'b' })).toThrow(
        'nestjs-redis-metrics: metric "shop_x_total" is a counter with labelNames [] in the registry, but was asked for as a gauge with labelNames []: ask with the same type and labelNames to share it, or give the other metric its own name',
      );
      expect(() => metrics.counter({ name: 'x_total', help: 'a', labelNames: ['shop'] })).toThrow(
        'nestjs-redis-metrics: metric "shop_x_total" is a counter with labelNames [] in the registry, but was asked for as a counter with labelNames ["shop"]: ask with the same type and labelNames to share it, or give the other metric its own name',
      );
      metrics.histogram({ name: 'took_seconds', help: 'h', labelNames: ['route'] });
      expect(() =>
        metrics.summary({ name: 'took_seconds', help: 'h', labelNames: ['route'] }),
      ).toThrow(
        'nestjs-redis-metrics: metric "shop_took_seconds" is a histogram with labelNames ["route"] in the registry, but was asked for as a summary with labelNames ["route"]: ask with the same type and labelNames to share it, or give the other metric its own name',
      );

      await metrics.flush();
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      expect(family(text, 'shop_y_total')).toEqual(['shop_y_total{region="eu",shop="north"} 2']);
    } finally {
      await app.close();
    }
  });

  it('shares a histogram or summary asked for with the same buckets or percentiles, or none, and refuses others', async () => {
    const app = await startApp();
    try {
      const metrics = app.get(RedisMetricsService);
      const took = metrics.histogram({ name: 'took', help: 'h', buckets: [0.1, 1] });
      expect(metrics.histogram({ name: 'took', help: 'h', buckets: [0.1, 1] })).toBe(took);
      expect(metrics.histogram({ name: 'took', help: 'h' })).toBe(took);
      // Before, the second call got the first histogram, observing into buckets it did not ask for.
      expect(() => metrics.histogram({ name: 'took', help: 'h', buckets: [0.5, 5] })).toThrow(
        'nestjs-redis-metrics: metric "shop_took" is a histogram with buckets [0.1,1] in the registry, but was asked for with buckets [0.5,5]: ask with the same buckets (or none) to share it, or give the other metric its own name',
      );
      const size = metrics.summary({ name: 'size', help: 's', percentiles: [0.5] });
      expect(metrics.summary({ name: 'size', help: 's' })).toBe(size);
      expect(() => metrics.summary({ name: 'size', help: 's', percentiles: [0.9, 0.99] })).toThrow(
        'nestjs-redis-metrics: metric "shop_size" is a summary with percentiles [0.5] in the registry, but was asked for with percentiles [0.9,0.99]: ask with the same percentiles (or none) to share it, or give the other metric its own name',
      );
    } finally {
      await app.close();
    }
  });

  it('refuses make*Provider metrics of one name and two types when the app starts', async () => {
    @Injectable()
    class JobsDone {
      constructor(@InjectMetric('jobs') readonly jobs: Counter) {}
    }
    @Module({
      providers: [makeCounterProvider({ name: 'jobs', help: 'Jobs done' }), JobsDone],
    })
    class DoneModule {}
    @Injectable()
    class JobsRunning {
      constructor(@InjectMetric('jobs') readonly jobs: Gauge) {}
    }
    @Module({
      imports: [DoneModule],
      providers: [makeGaugeProvider({ name: 'jobs', help: 'Jobs running' }), JobsRunning],
    })
    class JobsUserModule {}
    // Whichever provider Nest makes first is the one the registry holds (NestJS 12 makes the gauge
    // first, NestJS 11 the counter); the other is refused.
    const refused = (held: string, asked: string) =>
      `nestjs-redis-metrics: metric "shop_jobs" is a ${held} with labelNames [] in the registry, but was asked for as a ${asked} with labelNames []: ask with the same type and labelNames to share it, or give the other metric its own name`;
    const error = await startApp(JobsUserModule).then(
      () => undefined,
      (thrown: unknown) => (thrown as Error).message,
    );
    expect([refused('gauge', 'counter'), refused('counter', 'gauge')]).toContain(error);
  });

  it("stops start-up naming the module's HTTP metric and the httpMetrics option when the app made a metric of its name", async () => {
    // Counted the willsoto way, by an interceptor of the app's own.
    @Injectable()
    class OwnRequestCounter {
      readonly requests: Counter<string>;
      constructor(metrics: RedisMetricsService) {
        this.requests = metrics.counter({
          name: 'http_requests_total',
          help: 'Requests',
          labelNames: ['path', 'status'],
        });
      }
    }
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
        }),
      ],
      providers: [OwnRequestCounter],
    })
    class OwnHttpMetricsAppModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [OwnHttpMetricsAppModule],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    try {
      await expect(app.init()).rejects.toThrow(
        `nestjs-redis-metrics: metric "http_requests_total" is one of the module's HTTP request metrics (a counter with labelNames ["method","route","status_code"]), but the registry already holds a counter with labelNames ["path","status"] of that name, made by the app or another library: give that one another name, or set the option httpMetrics: false to count requests your own way`,
      );
    } finally {
      await app.close();
    }
  });

  it('shares a gauge asked for again with its mode or none, and refuses it with another mode', async () => {
    const app = await startApp();
    try {
      const metrics = app.get(RedisMetricsService);
      const manager = app.get(RedisStorageManager);
      const carts = metrics.gauge({ name: 'carts', help: 'c', multiprocessMode: 'livesum' });
      expect(metrics.gauge({ name: 'carts', help: 'c', multiprocessMode: 'livesum' })).toBe(carts);
      expect(metrics.gauge({ name: 'carts', help: 'c' })).toBe(carts);
      // Two feature modules that disagree: the second used to change how the first one's gauge merged.
      expect(() => metrics.gauge({ name: 'carts', help: 'c', multiprocessMode: 'max' })).toThrow(
        'nestjs-redis-metrics: gauge "shop_carts" was made with the multiprocessMode "livesum" and asked for again with "max": ask with the same mode (or none) to share it, or give the other gauge its own name',
      );
      expect(manager.gaugeModeOf('shop_carts')).toBe('livesum');
    } finally {
      await app.close();
    }
  });

  it('refuses a gauge mode it does not know where the gauge is made, leaving no gauge behind', async () => {
    const MODES =
      'a mode is one of all, liveall, live, max, min, sum, mostrecent, livemax, livemin, livesum, livemostrecent';
    const app = await startApp();
    try {
      const metrics = app.get(RedisMetricsService);
      // A typo in JavaScript, or a mode read from the environment, passes the type.
      expect(() =>
        metrics.gauge({ name: 'carts', help: 'c', multiprocessMode: 'livesums' as never }),
      ).toThrow(
        `nestjs-redis-metrics: gauge "shop_carts" has the multiprocessMode "livesums"; ${MODES}`,
      );
      expect(() =>
        metrics.gauge({ name: 'carts', help: 'c', multiprocessMode: '' as never }),
      ).toThrow(`nestjs-redis-metrics: gauge "shop_carts" has the multiprocessMode ""; ${MODES}`);
      expect(() => app.get(RedisStorageManager).setGaugeMode('shop_x', 'Max' as never)).toThrow(
        `nestjs-redis-metrics: gauge "shop_x" has the multiprocessMode "Max"; ${MODES}`,
      );
      expect(app.get(RedisStorageManager).registry.getSingleMetric('shop_carts')).toBeUndefined();
    } finally {
      await app.close();
    }

    @Module({
      providers: [
        makeGaugeProvider({ name: 'queue_depth', help: 'q', multiprocessMode: 'sums' as never }),
      ],
    })
    class QueueModule {}
    const error = await startApp(QueueModule).then(
      () => undefined,
      (thrown: unknown) => (thrown as Error).message,
    );
    expect(error).toBe(
      `nestjs-redis-metrics: gauge "shop_queue_depth" has the multiprocessMode "sums"; ${MODES}`,
    );
  });
});

describe('two managers of one registry and key prefix in a process', () => {
  const prefix = useTestRedis().prefix('twice');

  const MESSAGE =
    'Another RedisStorageManager of this process already flushes this registry under the key prefix "' +
    prefix +
    '": every series will be counted twice, the HTTP request metrics included (a second forRoot() does not count requests again on the same HTTP server, but both managers flush what the registry counted).';

  /** Starts an app of `module`, with the error lines Nest's logger got. */
  async function start(module: object) {
    const errors: string[] = [];
    const logger = {
      log: () => undefined,
      warn: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
      error: (message: unknown) => void errors.push(String(message)),
    };
    const moduleRef = await Test.createTestingModule({ imports: [module as never] }).compile();
    const app = moduleRef.createNestApplication({ logger });
    await app.init();
    await app.get(RedisStorageManager).setup();
    return { app, errors };
  }

  it('says so loudly when forRoot() is imported in two modules, and when a test starts an app before closing the last, without stopping either', async () => {
    const registry = new Registry();
    const options = { url: testRedisUrl(), keyPrefix: prefix, registry, defaultMetrics: false };
    @Module({ imports: [RedisMetricsModule.forRoot({ ...options, controller: false })] })
    class BillingModule {}
    @Module({ imports: [RedisMetricsModule.forRoot(options), BillingModule] })
    class TwiceModule {}
    @Module({ imports: [RedisMetricsModule.forRoot(options)] })
    class OnceModule {}

    const twice = await start(TwiceModule);
    expect(twice.errors.filter((line) => line.startsWith(MESSAGE))).toHaveLength(1);
    await twice.app.close();

    // As Nest's starter e2e test does: an app per test, the last one not closed yet.
    const first = await start(OnceModule);
    const second = await start(OnceModule);
    expect(first.errors).toEqual([]);
    expect(second.errors.filter((line) => line.startsWith(MESSAGE))).toHaveLength(1);
    await Promise.all([first.app.close(), second.app.close()]);

    // Every claim went with its app: one app alone says nothing and counts once.
    const once = await start(OnceModule);
    try {
      expect(once.errors).toEqual([]);
      const orders = once.app.get(RedisMetricsService).counter({ name: 'twice_total', help: 'h' });
      orders.inc(3);
      await once.app.get(RedisMetricsService).flush();
      const text = (await request(once.app.getHttpServer()).get('/metrics').expect(200)).text;
      expect(family(text, 'twice_total')).toEqual(['twice_total 3']);
    } finally {
      await once.app.close();
    }
  });
});

describe('two forRoot() of one registry and key prefix on one HTTP server', () => {
  const prefix = useTestRedis().prefix('twice-http');

  @Controller('ping')
  class PingController {
    @Get()
    ping(): string {
      return 'pong';
    }
  }

  it('counts requests once per registry, so HTTP metrics double like every other series, not four times', async () => {
    const registry = new Registry();
    const options = { url: testRedisUrl(), keyPrefix: prefix, registry, defaultMetrics: false };
    @Module({ imports: [RedisMetricsModule.forRoot({ ...options, controller: false })] })
    class BillingModule {}
    @Module({
      imports: [RedisMetricsModule.forRoot(options), BillingModule],
      controllers: [PingController],
    })
    class TwiceHttpModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TwiceHttpModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const metrics = app.get(RedisMetricsService);
      metrics.counter({ name: 'custom_total', help: 'Counted once in the registry' }).inc(3);
      for (let i = 0; i < 3; i += 1) await request(app.getHttpServer()).get('/ping').expect(200);
      // Counted once in this process's registry...
      const local = await registry.getSingleMetric('http_requests_total')!.get();
      expect(local.values.map(({ labels, value }) => [labels, value])).toEqual([
        [{ method: 'GET', route: '/ping', status_code: '200' }, 3],
      ]);
      // ...and flushed by both managers: twice in the merged scrape, as the custom counter.
      for (const manager of [
        app.get(RedisStorageManager),
        moduleRef.select(BillingModule).get(RedisStorageManager),
      ]) {
        await manager.flush();
      }
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      expect(family(text, 'custom_total')).toEqual(['custom_total 6']);
      expect(family(text, 'http_requests_total')).toEqual([
        'http_requests_total{method="GET",route="/ping",status_code="200"} 6',
      ]);
    } finally {
      await app.close();
    }
  });
});

describe('the module class imported without forRoot()', () => {
  const prefix = useTestRedis().prefix('plain-import');

  /** What /metrics shows of orders_placed_total after an app of `root` placed `count` orders. */
  async function ordersPlacedIn(root: Type<unknown>, shop: string, count: number) {
    const moduleRef = await Test.createTestingModule({ imports: [root] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      app.get(OrdersService).placed.inc({ shop }, count);
      await app.get(RedisMetricsService).flush();
      const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
      return family(text, 'orders_placed_total');
    } finally {
      await app.close();
    }
  }

  it('does no harm in a feature module beside the global forRoot(), and the metrics count once', async () => {
    @Module({ imports: [RedisMetricsModule], providers: [OrdersService] })
    class ShopModule {}
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
        }),
        ShopModule,
      ],
    })
    class ShopAppModule {}

    expect(await ordersPlacedIn(ShopAppModule, 'south', 2)).toEqual([
      'orders_placed_total{shop="south"} 2',
    ]);
  });

  it('with isGlobal: false, shares one forRoot() through a module that imports and exports it', async () => {
    // As the README's isGlobal row says: forRoot() once, in a module that re-exports it.
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: `${prefix}-scoped`,
          registry: new Registry(),
          defaultMetrics: false,
          isGlobal: false,
        }),
      ],
      exports: [RedisMetricsModule],
    })
    class MetricsModule {}
    @Module({ imports: [MetricsModule], providers: [OrdersService] })
    class ShopModule {}
    @Module({ imports: [MetricsModule, ShopModule] })
    class ScopedAppModule {}

    expect(await ordersPlacedIn(ScopedAppModule, 'east', 3)).toEqual([
      'orders_placed_total{shop="east"} 3',
    ]);
  });

  it('alone, stops start-up saying to import forRoot() in the root module', async () => {
    @Module({ imports: [RedisMetricsModule] })
    class NoRootModule {}
    await expect(Test.createTestingModule({ imports: [NoRootModule] }).compile()).rejects.toThrow(
      'nestjs-redis-metrics: RedisMetricsModule is imported without forRoot() or forRootAsync(), and no forRoot() module is global: import RedisMetricsModule.forRoot() (or forRootAsync()) once, in the root module; feature modules then need no import to inject RedisMetricsService',
    );
  });
});
