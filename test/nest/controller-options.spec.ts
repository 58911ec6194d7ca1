import 'reflect-metadata';

import {
  Controller,
  Module,
  VERSION_NEUTRAL,
  VersioningType,
  type INestApplication,
  type Type,
} from '@nestjs/common';
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
type Versioning = Parameters<INestApplication['enableVersioning']>[0];

/** An app of the module on `adapter`, with the app's versioning and, if given, a replaced controller. */
async function startVersionedApp(
  adapter: Adapter,
  keyPrefix: string,
  versioning: Versioning,
  controller?: Type<RedisMetricsController>,
): Promise<INestApplication> {
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        url: testRedisUrl(),
        keyPrefix,
        registry: new Registry(),
        defaultMetrics: false,
        ...(controller ? { controller } : {}),
      }),
    ],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app =
    adapter === 'fastify'
      ? moduleRef.createNestApplication(new FastifyAdapter(), { logger: false })
      : moduleRef.createNestApplication({ logger: false });
  app.enableVersioning(versioning);
  await app.init();
  if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
  return app;
}

describe.each<Adapter>(['express', 'fastify'])(
  'options of a replaced controller on %s',
  (adapter) => {
    const redis = useTestRedis();

    const startApp = () =>
      startVersionedApp(
        adapter,
        redis.prefix(`controller-options-${adapter}`),
        { type: VersioningType.HEADER, header: 'X-Api-Version' },
        OpsMetricsController,
      );

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

/** The README's way to serve the routes with no version whatever the app's versioning. */
@Controller({ version: VERSION_NEUTRAL })
class NeutralMetricsController extends RedisMetricsController {}

describe.each<Adapter>(['express', 'fastify'])(
  "the module's routes under the app's versioning on %s",
  (adapter) => {
    const redis = useTestRedis();

    const startApp = (versioning: Versioning, controller?: typeof NeutralMetricsController) =>
      startVersionedApp(
        adapter,
        redis.prefix(`controller-versioning-${adapter}`),
        versioning,
        controller,
      );

    const byHeader = {
      type: VersioningType.HEADER,
      header: 'X-Api-Version',
      defaultVersion: '1',
    } as const;
    const byUri = { type: VersioningType.URI, defaultVersion: '1' } as const;

    it('are versioned as every route: /v1/metrics by URI, the version header by header', async () => {
      const uri = await startApp(byUri);
      const header = await startApp(byHeader);
      try {
        await request(uri.getHttpServer()).get('/v1/metrics').expect(200);
        await request(uri.getHttpServer()).get('/metrics').expect(404);
        await request(header.getHttpServer()).get('/metrics').set('X-Api-Version', '1').expect(200);
        await request(header.getHttpServer()).get('/metrics').expect(404);
      } finally {
        await uri.close();
        await header.close();
      }
    });

    it.each([
      ['a version header', byHeader],
      ['URI versioning', byUri],
    ] as const)(
      'with a VERSION_NEUTRAL subclass, answer with no version under %s',
      async (_, versioning) => {
        const app = await startApp(versioning, NeutralMetricsController);
        try {
          await request(app.getHttpServer()).get('/metrics').expect(200);
          await request(app.getHttpServer()).get('/metrics/health').expect(200);
        } finally {
          await app.close();
        }
      },
    );
  },
);
