import 'reflect-metadata';

import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry, type Counter, type Gauge } from 'prom-client';

import {
  cleanupRedisKeys,
  deleteCounts,
  getRedisClient,
  getRedisCollector,
  getRedisStorageManager,
  InjectMetric,
  isRedisEnabled,
  markProcessDead,
  makeCounterProvider,
  makeGaugeProvider,
  RedisMetricsModule,
  RedisStorageManager,
  setupRedisMetrics,
  teardownRedisMetrics,
} from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { freePort } from '../harness/redis-server.mjs';

describe('metrics the way @willsoto/nestjs-prometheus users write them', () => {
  let client: Redis;
  const prefix = uniquePrefix('providers');

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  it('provides metrics with make*Provider and injects them with @InjectMetric, gauge mode included', async () => {
    @Injectable()
    class Jobs {
      constructor(
        @InjectMetric('jobs_done_total') readonly done: Counter<string>,
        @InjectMetric('jobs_running') readonly running: Gauge<string>,
      ) {}
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
      providers: [
        Jobs,
        makeCounterProvider({ name: 'jobs_done_total', help: 'Jobs done' }),
        makeGaugeProvider({
          name: 'jobs_running',
          help: 'Jobs running',
          multiprocessMode: 'livemax',
        }),
      ],
    })
    class AppModule {}
    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await app.init();
    try {
      const jobs = app.get(Jobs);
      jobs.done.inc(2);
      jobs.running.set(4);
      const manager = app.get(RedisStorageManager);
      await manager.flush();

      expect(manager.gaugeModeOf('jobs_running')).toBe('livemax');
      expect((await manager.metrics()).body).toBe(
        '# HELP jobs_done_total Jobs done\n# TYPE jobs_done_total counter\njobs_done_total 2\n\n' +
          '# HELP jobs_running Jobs running\n# TYPE jobs_running gauge\njobs_running 4\n',
      );
    } finally {
      await app.close();
    }
  });
});

/** Resolves when the client's connection has ended. */
function ended(redis: { status: string; once(event: 'end', listener: () => void): unknown }) {
  return new Promise<void>((resolve) => {
    if (redis.status === 'end') resolve();
    else redis.once('end', resolve);
  });
}

describe('functions for code outside dependency injection', () => {
  const saved = { ...process.env };
  const prefix = uniquePrefix('functions');
  let client: Redis;

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    process.env = saved;
    await deletePrefix(client, prefix);
    await client.quit();
  });

  /** The environment of a process whose metrics go to the test Redis under this describe's prefix. */
  const useTestRedisFromEnv = () =>
    Object.assign(process.env, {
      REDIS_ENABLED: 'true',
      PROMETHEUS_REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      REDIS_TTL_SECONDS: '5',
    });

  it('set up, report, clean up and tear down one process-wide manager from the environment', async () => {
    useTestRedisFromEnv();
    const keys = `{${prefix}}`;
    expect(isRedisEnabled()).toBe(false);
    try {
      expect(await setupRedisMetrics()).toBe(true);
      const manager = getRedisStorageManager();
      expect(getRedisStorageManager()).toBe(manager);
      expect(manager.options).toMatchObject({ keyPrefix: prefix, ttlSeconds: 5 });
      expect(isRedisEnabled()).toBe(true);
      expect(getRedisClient()).toBe(manager.getClient());
      expect(getRedisCollector()).toBe(manager.getCollector());

      // A process that died long ago, for cleanupRedisKeys to end: its gauges go, its counts stay.
      await client.zadd(`${keys}:processes`, 1000, 'gone/1/abc');
      await client.hset(`${keys}:gauges:gone/1/abc`, '["old_gauge",{}]', '9 1000');
      await client.hset(`${keys}:totals`, '["old_total",{}]', 'v 9', '#p:gone/1/abc', '4');
      expect(await cleanupRedisKeys()).toBe(1);
      expect(await client.exists(`${keys}:gauges:gone/1/abc`)).toBe(0);
      expect(await client.hget(`${keys}:totals`, '["old_total",{}]')).toBe('v 9');
      expect(await client.hget(`${keys}:ended-seq`, 'gone/1/abc')).toBe('4');

      // A worker the primary saw exit: ended at once, whatever its heartbeat.
      await client.zadd(`${keys}:processes`, Date.now(), 'web-9/4242/def');
      await client.hset(
        `${keys}:process-info`,
        'web-9/4242/def',
        JSON.stringify({ pid: 4242, hostname: 'web-9', startedAt: 1 }),
      );
      expect(await markProcessDead({ pid: 4242 })).toEqual([]); // another host than this one
      expect(await markProcessDead({ pid: 4242, hostname: 'web-9' })).toEqual(['web-9/4242/def']);
      expect(await client.zscore(`${keys}:processes`, 'web-9/4242/def')).toBeNull();
    } finally {
      await teardownRedisMetrics();
    }

    expect(isRedisEnabled()).toBe(false);
    expect(await client.zcard(`${keys}:processes`)).toBe(0);
  });

  it('answers markProcessDead, cleanupRedisKeys and deleteCounts before setupRedisMetrics, as a primary that flushes nothing calls them, and teardownRedisMetrics closes the connection they opened', async () => {
    useTestRedisFromEnv();
    const keys = `{${prefix}}`;
    await client.zadd(`${keys}:processes`, Date.now(), 'web-8/77/abc');
    await client.hset(
      `${keys}:process-info`,
      'web-8/77/abc',
      JSON.stringify({ pid: 77, hostname: 'web-8', startedAt: 1 }),
    );
    // Counts of a shop that closed, and of a metric the code no longer has.
    await client.hset(
      `${keys}:totals`,
      '["shop_orders_total",{"shop":"closed"}]',
      'v 9',
      '["shop_orders_total",{"shop":"north"}]',
      'v 4',
      '["retired_total",{}]',
      'v 2',
    );
    const manager = getRedisStorageManager();
    try {
      expect(await markProcessDead({ pid: 77, hostname: 'web-8' })).toEqual(['web-8/77/abc']);
      expect(await cleanupRedisKeys()).toBe(0);
      expect(await deleteCounts('shop_orders_total', { shop: 'closed' })).toBe(1);
      expect(await deleteCounts('retired_total')).toBe(1);
      expect(manager.getClient()!.status).toBe('ready');
    } finally {
      await teardownRedisMetrics();
    }
    // Closed, so the primary can exit: the connection ends right after QUIT's reply.
    await ended(manager.getClient()!);
    expect(await client.zscore(`${keys}:processes`, 'web-8/77/abc')).toBeNull();
    expect(await client.hgetall(`${keys}:totals`)).toMatchObject({
      '["shop_orders_total",{"shop":"north"}]': 'v 4',
    });
    expect(await client.hexists(`${keys}:totals`, '["shop_orders_total",{"shop":"closed"}]')).toBe(
      0,
    );
    expect(await client.hexists(`${keys}:totals`, '["retired_total",{}]')).toBe(0);
  });

  it('rejects, rather than throws, when the environment is wrong: a cluster primary that calls markProcessDead(...).catch() from its exit handler is not ended by it', async () => {
    useTestRedisFromEnv();
    process.env.REDIS_TTL_SECONDS = 'five';
    const MESSAGE = 'nestjs-redis-metrics: REDIS_TTL_SECONDS must be a whole number; got "five"';
    try {
      // Thrown rather than rejected (as before), the first call fails the test before the expect.
      const calls = [
        setupRedisMetrics(),
        markProcessDead({ pid: 77 }),
        cleanupRedisKeys(),
        deleteCounts('retired_total'),
      ];
      const rejected = await Promise.all(
        calls.map((call) =>
          call.then(
            () => 'resolved',
            (error: unknown) => (error as Error).message,
          ),
        ),
      );
      expect(rejected).toEqual([MESSAGE, MESSAGE, MESSAGE, MESSAGE]);
    } finally {
      useTestRedisFromEnv();
      await teardownRedisMetrics();
    }
  });

  it('describes why Redis cannot be reached when markProcessDead comes before setupRedisMetrics', async () => {
    const port = await freePort();
    Object.assign(process.env, {
      REDIS_ENABLED: 'true',
      PROMETHEUS_REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: prefix,
    });
    const manager = getRedisStorageManager();
    try {
      await expect(markProcessDead({ pid: 77 })).rejects.toThrow(
        `connection refused at 127.0.0.1:${port} (is Redis running there? check PROMETHEUS_REDIS_URL)`,
      );
    } finally {
      await teardownRedisMetrics();
    }
    // It stops trying: no attempt in more than twice its first retry delay (200 ms).
    const attempts: string[] = [];
    manager.getClient()!.on('connecting', () => attempts.push('connecting'));
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(attempts).toEqual([]);
  });
});
