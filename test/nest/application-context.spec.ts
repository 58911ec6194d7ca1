import 'reflect-metadata';

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
});
