import 'reflect-metadata';

import { spawn } from 'node:child_process';

import {
  Inject,
  Injectable,
  Module,
  type OnModuleDestroy,
  type INestApplicationContext,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';
import request from 'supertest';

import {
  InjectMetric,
  makeCounterProvider,
  RedisMetricsModule,
  RedisMultiProcessCollector,
  RedisStorageManager,
} from '../../src/index.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';

/** Nest's logger, keeping what is warned and logged as an error. */
function keepingProblems(): { logger: LoggerService; problems: string[] } {
  const problems: string[] = [];
  const keep = (message: unknown) => problems.push(String(message));
  return { logger: { log: () => undefined, warn: keep, error: keep }, problems };
}

@Injectable()
class EmailJobs {
  constructor(@InjectMetric('emails_sent_total') private readonly sent: Counter<string>) {}

  send(times: number) {
    for (let i = 0; i < times; i += 1) this.sent.inc();
  }
}

describe('a worker without an HTTP server (createApplicationContext), as the README describes', () => {
  const redis = useTestRedis();

  it('flushes, answers fresh scrapes, and delivers its last counts on close, without a warning', async () => {
    const keyPrefix = redis.prefix('context');
    const url = testRedisUrl();

    @Module({
      imports: [
        // A flush interval no test waits for: only fresh scrapes and the close deliver the counts.
        RedisMetricsModule.forRoot({
          url,
          keyPrefix,
          registry: new Registry(),
          flushIntervalMs: 60_000,
        }),
      ],
      providers: [
        EmailJobs,
        makeCounterProvider({ name: 'emails_sent_total', help: 'Emails sent' }),
      ],
    })
    class WorkerModule {}

    const { logger, problems } = keepingProblems();
    const worker: INestApplicationContext = await NestFactory.createApplicationContext(
      WorkerModule,
      { logger },
    );
    let workerClosed = false;
    const web = await Test.createTestingModule({
      imports: [RedisMetricsModule.forRoot({ url, keyPrefix, registry: new Registry() })],
    })
      .compile()
      .then((moduleRef) => moduleRef.createNestApplication({ logger: false }).init());
    try {
      expect(await worker.get(RedisStorageManager).setup()).toBe(true);
      const scrape = async () =>
        (await request(web.getHttpServer()).get('/metrics').expect(200)).text
          .split('\n')
          .filter((line) => line.startsWith('emails_sent_total'));

      worker.get(EmailJobs).send(5);
      // The worker hears the web process's fresh-scrape request and flushes.
      expect(await scrape()).toEqual(['emails_sent_total 5']);

      worker.get(EmailJobs).send(2);
      await worker.close();
      workerClosed = true;
      // Read without a fresh-scrape request, which would flush a worker still running: the close did.
      const merged = await new RedisMultiProcessCollector({
        client: redis.client,
        keyPrefix,
      }).metrics();
      expect(merged.split('\n').filter((line) => line.startsWith('emails_sent_total'))).toEqual([
        'emails_sent_total 7',
      ]);
      expect(await scrape()).toEqual(['emails_sent_total 7']);
      expect(problems).toEqual([]);
    } finally {
      if (!workerClosed) await worker.close();
      await web.close();
    }
  });

  it('delivers the last counts of a job that ends with app.close() before process.exit(), and loses those since the last flush when it exits or throws without it', async () => {
    const fixture = new URL('../fixtures/job-worker.mjs', import.meta.url).pathname;
    /** Runs the job worker to its end: its exit code, and jobs_done_total merged from Redis then. */
    const run = async (end: string) => {
      const keyPrefix = redis.prefix(`job-${end}`);
      const child = spawn(process.execPath, [fixture], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: testRedisUrl(),
          KEY_PREFIX: keyPrefix,
          COUNT: '4',
          END: end,
        },
        stdio: 'ignore',
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      const merged = await new RedisMultiProcessCollector({
        client: redis.client,
        keyPrefix,
      }).metrics();
      return {
        code,
        jobs: merged.split('\n').filter((line) => line.startsWith('jobs_done_total')),
      };
    };
    expect(await run('close-exit')).toEqual({ code: 0, jobs: ['jobs_done_total 4'] });
    // The README says so: process.exit() and an uncaught exception run no shutdown hook.
    expect(await run('exit')).toEqual({ code: 0, jobs: [] });
    expect(await run('throw')).toEqual({ code: 1, jobs: [] });
  });

  it("says that a client of the user's was closed before its last flush, by a module of the app's that closes it first", async () => {
    // A Redis module of the app's, as many close their clients in a shutdown hook: Nest runs the hooks of
    // the module that makes the client, imported by the metrics module's forRootAsync(), first.
    const keyPrefix = redis.prefix('closed-first');
    const REDIS = Symbol('REDIS');
    @Injectable()
    class RedisCloser implements OnModuleDestroy {
      constructor(@Inject(REDIS) private readonly client: Redis) {}
      async onModuleDestroy() {
        await this.client.quit();
      }
    }
    @Module({
      providers: [{ provide: REDIS, useFactory: () => new Redis(testRedisUrl()) }, RedisCloser],
      exports: [REDIS],
    })
    class AppRedisModule {}
    @Module({
      imports: [
        RedisMetricsModule.forRootAsync({
          imports: [AppRedisModule],
          inject: [REDIS],
          useFactory: (client: Redis) => ({ client, keyPrefix, registry: new Registry() }),
        }),
      ],
      providers: [
        EmailJobs,
        makeCounterProvider({ name: 'emails_sent_total', help: 'Emails sent' }),
      ],
    })
    class WorkerModule {}

    const { logger, problems } = keepingProblems();
    const worker = await NestFactory.createApplicationContext(WorkerModule, { logger });
    expect(await worker.get(RedisStorageManager).setup()).toBe(true);
    worker.get(EmailJobs).send(3);
    const started = performance.now();
    await worker.close();
    // No waiting on a client that cannot come back.
    expect(performance.now() - started).toBeLessThan(1000);
    const process = (await worker.get(RedisStorageManager).health()).process;
    expect(problems).toEqual([
      `The Redis client given as the "client" option was closed before the last flush of this process (${process}) at shutdown, by a shutdown hook that ran before the metrics module's (such as that of the module that made it) or by its retryStrategy giving up: what it counted since its last flush is lost, and its gauges stay until a live process ends it (ttlSeconds). Close that client after app.close() has resolved, or give the module a url to connect with a client of its own.`,
    ]);
  });
});
