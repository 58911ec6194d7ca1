import cluster, { type Worker } from 'node:cluster';

import { Redis } from 'ioredis';
import { RedisMultiProcessCollector } from 'nestjs-redis-metrics';
import { AggregatorRegistry } from 'prom-client';

import { seriesLine, seriesValue } from './lib/series.js';
import { median, percentile, since } from './lib/stats.js';
import type { PopulateRequest } from './scrape/worker.js';

/** Scrape latency of both designs at one size. */
export interface ScrapeResult {
  processes: number;
  seriesPerProcess: number;
  module: Latency;
  /** prom-client's AggregatorRegistry over node:cluster IPC; `undefined` latency when it failed. */
  aggregator: Latency;
}

export interface Latency {
  samples: number;
  medianMs: number;
  p99Ms: number;
  /** Why the design could not serve this size, if it could not. */
  failure?: string;
}

const METRIC = 'bench_requests_total';

function awaitMessage(worker: Worker, cmd: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Record<string, unknown>) => {
      if (message?.cmd !== cmd) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number) => reject(new Error(`a scrape worker exited with ${code}`));
    worker.on('message', onMessage);
    worker.once('exit', onExit);
  });
}

/**
 * Times `scrape` until it has `iterations` samples or `budgetMs` is spent (at least 3 samples), and
 * checks the first answer holds the expected series.
 */
async function time(
  scrape: () => Promise<string>,
  expected: string[],
  { iterations, budgetMs }: { iterations: number; budgetMs: number },
): Promise<Latency> {
  const samples: number[] = [];
  const started = performance.now();
  try {
    while (samples.length < iterations && (samples.length < 3 || since(started) < budgetMs)) {
      const start = performance.now();
      const text = await scrape();
      samples.push(since(start));
      if (samples.length === 1) {
        const missing = expected.filter((line) => !text.includes(`\n${line}\n`));
        if (missing.length > 0) throw new Error(`wrong output: no line "${missing[0]}"`);
      }
    }
  } catch (error) {
    return { samples: 0, medianMs: NaN, p99Ms: NaN, failure: (error as Error).message };
  }
  return { samples: samples.length, medianMs: median(samples), p99Ms: percentile(samples, 0.99) };
}

/**
 * Scrape latency against processes × series: real node:cluster workers each hold `series` counter
 * series in prom-client and flush them to Redis; the primary then times (a) this module's
 * `collect()` plus formatting, read from Redis, and (b) prom-client's AggregatorRegistry, which asks
 * every worker over IPC, on the same workers and series.
 */
export async function benchScrape(
  redisUrl: string,
  options: { processes: number[]; series: number[]; iterations: number; budgetMs: number },
): Promise<ScrapeResult[]> {
  const results: ScrapeResult[] = [];
  const redis = new Redis(redisUrl);
  const aggregator = new AggregatorRegistry();
  cluster.setupPrimary({
    exec: new URL('./scrape/worker.js', import.meta.url).pathname,
    silent: false,
  });
  const workers: Worker[] = [];
  try {
    for (const processes of options.processes) {
      while (workers.length < processes) {
        const worker = cluster.fork({ BENCH_REDIS_URL: redisUrl });
        await awaitMessage(worker, 'ready');
        workers.push(worker);
      }
      for (const series of options.series) {
        const prefix = `bench-scrape-${processes}x${series}`;
        const populated = await Promise.all(
          workers.map((worker) => {
            const reply = awaitMessage(worker, 'populated');
            worker.send({ cmd: 'populate', series, prefix } satisfies PopulateRequest);
            return reply;
          }),
        );
        const failed = populated.find((reply) => !reply.ok);
        if (failed) throw new Error(`a worker could not flush: ${String(failed.error)}`);

        // Every process holds seriesValue(i) in series i: the merged value is processes times it.
        const expected = [0, series - 1].map((i) =>
          seriesLine(METRIC, i, processes * seriesValue(i)),
        );
        const collector = new RedisMultiProcessCollector({ client: redis, keyPrefix: prefix });
        const module = await time(() => collector.metrics(), expected, options);
        const cluster = await time(() => aggregator.clusterMetrics(), expected, options);
        results.push({ processes, seriesPerProcess: series, module, aggregator: cluster });
        console.log(
          `  scrape ${processes} × ${series}: module ${module.failure ?? `${module.medianMs.toFixed(1)} ms`}, AggregatorRegistry ${
            cluster.failure ?? `${cluster.medianMs.toFixed(1)} ms`
          }`,
        );
        await redis.flushdb();
      }
    }
  } finally {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise((resolve) => {
            worker.once('exit', resolve);
            worker.kill();
          }),
      ),
    );
    redis.disconnect();
  }
  return results;
}
