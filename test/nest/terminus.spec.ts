import 'reflect-metadata';

import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';

import { RedisMetricsModule, RedisStorageManager } from '../../src/index.js';
import { RedisMetricsHealthIndicator } from '../../src/terminus.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../harness/test-redis.js';
import { waitFor } from '../harness/writer-processes.js';

// The app's own /health, as @nestjs/terminus users write it, with the metrics storage as one check.
@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly redisMetrics: RedisMetricsHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.redisMetrics.isHealthy()]);
  }
}

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RedisMetricsHealthIndicator],
})
class HealthModule {}

describe('an app with @nestjs/terminus and the module', () => {
  it("serves terminus' /health with the metrics storage in it, and the module's health beside it at /metrics/health", async () => {
    const redis = await startPrivateRedis();
    const client = connectTestRedis(redis.url);
    client.on('error', () => undefined);
    const prefix = uniquePrefix('terminus');
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: redis.url,
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          flushIntervalMs: 100,
          livenessWindowMs: 1000,
          ttlSeconds: 5,
        }),
        HealthModule,
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    // Bootstrap does not wait for Redis; the storage is up once its first write is acknowledged.
    expect(await app.get(RedisStorageManager).setup()).toBe(true);
    const server = app.getHttpServer();
    try {
      const terminus = await request(server).get('/health').expect(200);
      expect(terminus.body).toMatchObject({
        status: 'ok',
        info: { redisMetrics: { status: 'up', storage: 'up', liveProcesses: 1 } },
        error: {},
      });
      const own = await request(server).get('/metrics/health').expect(200);
      expect(own.body).toMatchObject({ status: 'up', liveProcesses: 1 });

      // Redis goes away: both say so, terminus with its 503 and the indicator down.
      await redis.stop();
      await waitFor(async () => (await request(server).get('/health')).status === 503);
      const down = await request(server).get('/health').expect(503);
      expect(down.body).toMatchObject({
        status: 'error',
        error: { redisMetrics: { status: 'down', storage: 'degraded' } },
      });
      expect(typeof down.body.error.redisMetrics.error).toBe('string');
      await request(server).get('/metrics/health').expect(503);
    } finally {
      await app.close();
      await redis.start().catch(() => undefined);
      await deletePrefix(client, prefix).catch(() => undefined);
      client.disconnect();
      await redis.stop();
    }
  });
});
