import 'reflect-metadata';

import { Controller, Module, VersioningType, type INestApplication } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import request from 'supertest';

import { RedisMetricsController, RedisMetricsModule } from '../../src/index.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';

/** A replaced controller class with every routing option of its own @Controller(). */
@Controller({ path: 'ops', host: 'internal.local', version: '2' })
class OpsMetricsController extends RedisMetricsController {}

type Adapter = 'express' | 'fastify';

describe.each<Adapter>(['express', 'fastify'])(
  'options of a replaced controller on %s',
  (adapter) => {
    const redis = useTestRedis();

    async function startApp(): Promise<INestApplication> {
      @Module({
        imports: [
          RedisMetricsModule.forRoot({
            url: testRedisUrl(),
            keyPrefix: redis.prefix(`controller-options-${adapter}`),
            registry: new Registry(),
            defaultMetrics: false,
            controller: OpsMetricsController,
          }),
        ],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      const app =
        adapter === 'fastify'
          ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
          : moduleRef.createNestApplication({ logger: false });
      app.enableVersioning({ type: VersioningType.HEADER, header: 'X-Api-Version' });
      await app.init();
      if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
      return app;
    }

    it('keeps the path, host and version of its @Controller() on the inherited routes', async () => {
      const app = await startApp();
      const http = () => request(app.getHttpServer());
      try {
        for (const path of ['/ops/metrics', '/ops/metrics/health']) {
          await http()
            .get(path)
            .set('Host', 'internal.local')
            .set('X-Api-Version', '2')
            .expect(200);
          await http()
            .get(path)
            .set('Host', 'public.example')
            .set('X-Api-Version', '2')
            .expect(404);
          await http().get(path).set('Host', 'internal.local').expect(404);
          await http()
            .get(path)
            .set('Host', 'internal.local')
            .set('X-Api-Version', '1')
            .expect(404);
        }
      } finally {
        await app.close();
      }
    });
  },
);
