// An app as a user writes it after `npm install nestjs-redis-metrics` with ioredis 5 and without the
// optional peers (@nestjs/config, @nestjs/terminus). Compiled and run by scripts/test-consumer-app.sh
// against the packed tarball; prints what it checked, exits non-zero on any difference.
import 'reflect-metadata';

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Registry, type Counter } from 'prom-client';
import { RedisMetricsModule, RedisMetricsService } from 'nestjs-redis-metrics';

const require = createRequire(import.meta.url);

@Injectable()
class Orders {
  readonly placed: Counter<string>;
  constructor(metrics: RedisMetricsService) {
    this.placed = metrics.counter({ name: 'consumer_orders_total', help: 'Orders' });
  }
}

// A feature module that imports nothing of the metrics module.
@Module({ providers: [Orders], exports: [Orders] })
class OrdersModule {}

@Module({
  imports: [
    RedisMetricsModule.forRoot({
      url: process.env.REDIS_URL,
      keyPrefix: `consumer-${process.pid}`,
      registry: new Registry(),
      defaultMetrics: false,
      httpMetrics: false,
    }),
    OrdersModule,
  ],
})
class AppModule {}

async function main(): Promise<void> {
  for (const optional of ['@nestjs/config', '@nestjs/terminus']) {
    assert.throws(
      () => require.resolve(optional),
      /Cannot find module/,
      `${optional} is installed`,
    );
  }
  const ioredis = (require('ioredis/package.json') as { version: string }).version;
  assert.match(ioredis, /^5\./);

  const app = await NestFactory.create(AppModule, { logger: false });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  app.get(Orders).placed.inc(3);
  await app.get(RedisMetricsService).flush();
  const body = await (await fetch(`${await app.getUrl()}/metrics`)).text();
  await app.close();
  assert.equal(
    body,
    '# HELP consumer_orders_total Orders\n# TYPE consumer_orders_total counter\nconsumer_orders_total 3\n',
  );
  console.log(
    `ESM app with ioredis ${ioredis}, without @nestjs/config and @nestjs/terminus: /metrics served the merged counter`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
