// One NestJS worker serving GET /work, which counts an order and observes a duration, in one of the
// designs the hot-path benchmark compares (BENCH_MODE). Prints "listening on <port>" once it serves (on a free port); answers an
// IPC message "cpu" with its process.cpuUsage(), so the benchmark can charge CPU per request.
import 'reflect-metadata';

import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Redis } from 'ioredis';
import { RedisMetricsModule } from 'nestjs-redis-metrics';
import { Counter, Histogram } from 'prom-client';

import { handWrittenRequestMetrics } from './hand-written.js';
import { HOT_PATH_MODES, type HotPathMode } from './modes.js';

const mode = process.env.BENCH_MODE as HotPathMode;
const redisUrl = process.env.BENCH_REDIS_URL ?? '';
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** What the route records, whichever design stores it. */
interface Recorder {
  order(shop: string): void;
  duration(seconds: number): void;
}

/** prom-client in this process's memory (modes prom-client and module*: the module flushes it). */
function promClientRecorder(): Recorder {
  const orders = new Counter({ name: 'bench_orders_total', help: 'Orders', labelNames: ['shop'] });
  const durations = new Histogram({
    name: 'bench_work_seconds',
    help: 'Work duration',
    buckets: BUCKETS,
  });
  return { order: (shop) => orders.inc({ shop }), duration: (s) => durations.observe(s) };
}

/**
 * The original's design: every update is a Redis write (one per counter increment; a histogram
 * observation writes its bucket and its sum). Fire and forget, which is kinder to it than the
 * original's blocking writes.
 */
function writeThroughRecorder(): Recorder {
  const redis = new Redis(redisUrl);
  const ignore = () => undefined;
  const key = `writethrough:${process.pid}`;
  return {
    order: (shop) =>
      void redis.hincrbyfloat(key, `bench_orders_total{shop="${shop}"}`, 1).catch(ignore),
    duration: (seconds) => {
      const le = BUCKETS.find((bound) => seconds <= bound) ?? '+Inf';
      void redis.hincrbyfloat(key, `bench_work_seconds_bucket{le="${le}"}`, 1).catch(ignore);
      void redis.hincrbyfloat(key, 'bench_work_seconds_sum', seconds).catch(ignore);
    },
  };
}

const noRecorder: Recorder = { order: () => undefined, duration: () => undefined };

const recorder =
  mode === 'none'
    ? noRecorder
    : mode === 'write-through'
      ? writeThroughRecorder()
      : promClientRecorder();

@Controller()
class WorkController {
  private served = 0;

  @Get('work')
  work(): { ok: boolean } {
    this.served += 1;
    recorder.order(this.served % 2 === 0 ? 'north' : 'south');
    recorder.duration((this.served % 100) / 1000);
    return { ok: true };
  }
}

function metricsModule(): DynamicModule[] {
  const redis = { enabled: true, url: redisUrl, keyPrefix: 'bench-hot-path' };
  switch (mode.replace(/^fastify-/, '')) {
    case 'module':
      return [RedisMetricsModule.forRoot({ ...redis, defaultMetrics: false, httpMetrics: false })];
    case 'module-defaults':
      return [RedisMetricsModule.forRoot(redis)];
    case 'module-http':
      return [RedisMetricsModule.forRoot({ ...redis, defaultMetrics: false })];
    case 'module-default-metrics':
      return [RedisMetricsModule.forRoot({ ...redis, httpMetrics: false })];
    case 'module-async-http-off':
      return [
        RedisMetricsModule.forRootAsync({
          useFactory: () => ({ ...redis, defaultMetrics: false, httpMetrics: false }),
        }),
      ];
    default:
      return [];
  }
}

@Module({ imports: metricsModule(), controllers: [WorkController] })
class BenchModule {}

async function main(): Promise<void> {
  if (!(mode in HOT_PATH_MODES)) {
    throw new Error(`BENCH_MODE must be one of ${Object.keys(HOT_PATH_MODES).join(', ')}`);
  }
  const logger = ['error', 'warn'] as ('error' | 'warn')[];
  const app = mode.startsWith('fastify')
    ? await NestFactory.create(BenchModule, new FastifyAdapter(), { logger })
    : await NestFactory.create(BenchModule, { logger });
  app.enableShutdownHooks();
  if (mode === 'hand-written') app.use(handWrittenRequestMetrics());
  process.on('message', (message) => {
    if (message === 'cpu') process.send!(process.cpuUsage());
  });
  // A benchmark that died (Ctrl-C, a closed pipe) must not leave its servers behind.
  process.on('disconnect', () => process.exit(0));
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  console.log(`listening on ${address.port}`);
}

void main();
