import 'reflect-metadata';

import { spawn } from 'node:child_process';

import {
  Injectable,
  Module,
  type INestApplicationContext,
  type LoggerService,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
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
});
