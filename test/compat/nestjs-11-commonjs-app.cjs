// A CommonJS NestJS 11 app, as `nest new` makes one, that requires the library's CommonJS build.
// Run by scripts/test-nestjs-11.sh after it installed NestJS 11; prints what it checked.
'use strict';
require('reflect-metadata');
const assert = require('node:assert/strict');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { Registry } = require('prom-client');
const { RedisMetricsModule, RedisMetricsService } = require('nestjs-redis-metrics');

async function main() {
  const prefix = `compat-cjs-${process.pid}`;
  class AppModule {}
  Module({
    imports: [
      RedisMetricsModule.forRoot({
        url: process.env.REDIS_URL,
        keyPrefix: prefix,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
      }),
    ],
  })(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const metrics = app.get(RedisMetricsService);
  metrics.counter({ name: 'compat_events', help: 'Events' }).inc(3);
  await metrics.flush();
  const body = await (await fetch(`${await app.getUrl()}/metrics`)).text();
  await app.close();
  assert.equal(
    body,
    '# HELP compat_events Events\n# TYPE compat_events counter\ncompat_events 3\n',
  );
  console.log(
    `CommonJS NestJS ${require('@nestjs/core/package.json').version} app: /metrics served the merged counter`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
