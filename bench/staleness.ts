// Staleness (time from a count to a scrape that shows it) with and without fresh scrapes, and what a
// fresh scrape costs: NestJS apps of this process sharing one Redis, as the workers of a cluster.
import 'reflect-metadata';

import { Controller, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { RedisMetricsModule, RedisMetricsService, RedisStorageManager } from 'nestjs-redis-metrics';
import { Registry, type Counter } from 'prom-client';

import { commandCalls } from './lib/private-redis.js';
import { median, percentile } from './lib/stats.js';

const METRIC = 'bench_fresh_total';

export interface StalenessResult {
  freshScrapeWaitMs: number;
  flushIntervalMs: number;
  processes: number;
  /** Time from a count in one process to the first scrape of another that shows it, ms. */
  stalenessMedianMs: number;
  stalenessP99Ms: number;
  /** A scrape with nothing new to flush, ms. */
  scrapeMedianMs: number;
  /** Redis commands one scrape costs (its own and the flushes it asks for), scripts' inner ones included. */
  commandsPerScrape: number;
}

@Controller()
class CountController {
  private readonly counter: Counter;
  constructor(metrics: RedisMetricsService) {
    this.counter = metrics.counter({ name: METRIC, help: 'Counted' });
  }

  @Post('count')
  count(): string {
    this.counter.inc();
    return 'ok';
  }
}

async function startApps(
  redisUrl: string,
  size: number,
  prefix: string,
  flushIntervalMs: number,
  freshScrapeWaitMs: number,
): Promise<INestApplication[]> {
  const apps: INestApplication[] = [];
  for (let i = 0; i < size; i += 1) {
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: redisUrl,
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
          flushIntervalMs,
          freshScrapeWaitMs,
        }),
      ],
      controllers: [CountController],
    })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    await app.get(RedisStorageManager).setup();
    apps.push(app);
  }
  return apps;
}

async function scrapedCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${METRIC} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/**
 * For each setting: `trials` counts in the first app, each followed by scrapes of the second until
 * one shows it; then the plain cost of a scrape.
 */
export async function benchStaleness(
  redisUrl: string,
  {
    trials,
    processes,
    flushIntervalMs,
  }: { trials: number; processes: number; flushIntervalMs: number },
): Promise<StalenessResult[]> {
  const redis = new Redis(redisUrl);
  const results: StalenessResult[] = [];
  try {
    for (const freshScrapeWaitMs of [0, 250]) {
      const prefix = `bench-fresh-${freshScrapeWaitMs}`;
      const apps = await startApps(redisUrl, processes, prefix, flushIntervalMs, freshScrapeWaitMs);
      const [first, second] = await Promise.all(apps.slice(0, 2).map((app) => app.getUrl()));
      try {
        const staleness: number[] = [];
        let counted = await scrapedCount(second);
        for (let trial = 0; trial < trials; trial += 1) {
          // Counts land at random points of the flush cycle.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * flushIntervalMs));
          const started = performance.now();
          await fetch(`${first}/count`, { method: 'POST' });
          counted += 1;
          while ((await scrapedCount(second)) < counted) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          staleness.push(performance.now() - started);
        }
        const scrapes: number[] = [];
        await redis.config('RESETSTAT');
        for (let i = 0; i < 30; i += 1) {
          const started = performance.now();
          await scrapedCount(second);
          scrapes.push(performance.now() - started);
        }
        // The background flushes of the 30 scrapes' time are counted too: a small overestimate.
        const calls = [...(await commandCalls(redis)).values()].reduce((a, b) => a + b, 0);
        const result: StalenessResult = {
          freshScrapeWaitMs,
          flushIntervalMs,
          processes,
          stalenessMedianMs: median(staleness),
          stalenessP99Ms: percentile(staleness, 0.99),
          scrapeMedianMs: median(scrapes),
          commandsPerScrape: calls / scrapes.length,
        };
        results.push(result);
        console.log(
          `  staleness with freshScrapeWaitMs ${freshScrapeWaitMs}: median ${result.stalenessMedianMs.toFixed(1)} ms, p99 ${result.stalenessP99Ms.toFixed(1)} ms; scrape ${result.scrapeMedianMs.toFixed(1)} ms`,
        );
      } finally {
        await Promise.all(apps.map((app) => app.close()));
        await redis.flushdb();
      }
    }
  } finally {
    redis.disconnect();
  }
  return results;
}
