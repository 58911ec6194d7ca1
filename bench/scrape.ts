import cluster, { type Worker } from 'node:cluster';

import { Redis } from 'ioredis';
import { RedisMultiProcessCollector } from 'nestjs-redis-metrics';
import { AggregatorRegistry } from 'prom-client';

import { seriesLine, seriesValue } from './lib/series.js';
import { longestCallDuring, type LongestCall } from './lib/slowlog.js';
import { median, percentile, since } from './lib/stats.js';
import type { PopulateRequest } from './scrape/worker.js';

/** Scrape latency of both designs at one size. */
export interface ScrapeResult {
  processes: number;
  seriesPerProcess: number;
  /** Every process holds its own series (none shared), so the totals cannot fold them together. */
  distinct: boolean;
  module: Latency;
  /** The longest single Redis call of the module's scrapes (SLOWLOG). */
  longestRedisCall: LongestCall;
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
  options: {
    processes: number[];
    series: number[];
    /** Sizes measured once more with every process holding its own series: [processes, series]. */
    distinct: [number, number][];
    iterations: number;
    budgetMs: number;
  },
): Promise<ScrapeResult[]> {
  const results: ScrapeResult[] = [];
  const redis = new Redis(redisUrl);
  const aggregator = new AggregatorRegistry();
  cluster.setupPrimary({
    exec: new URL('./scrape/worker.js', import.meta.url).pathname,
    silent: false,
  });
  const workers: Worker[] = [];
  const plan: { processes: number; series: number; distinct: boolean }[] = [];
  for (const processes of options.processes) {
    for (const series of options.series) plan.push({ processes, series, distinct: false });
  }
  for (const [processes, series] of options.distinct)
    plan.push({ processes, series, distinct: true });
  try {
    for (const { processes, series, distinct } of plan) {
      while (workers.length < processes) {
        const worker = cluster.fork({ BENCH_REDIS_URL: redisUrl });
        await awaitMessage(worker, 'ready');
        workers.push(worker);
      }
      const prefix = `bench-scrape-${processes}x${series}${distinct ? '-distinct' : ''}`;
      const populated = await Promise.all(
        workers.map((worker, index) => {
          const reply = awaitMessage(worker, 'populated');
          worker.send({
            cmd: 'populate',
            series: index < processes ? series : 0,
            prefix,
            offset: distinct ? index * series : 0,
          } satisfies PopulateRequest);
          return reply;
        }),
      );
      const failed = populated.find((reply) => !reply.ok);
      if (failed) throw new Error(`a worker could not flush: ${String(failed.error)}`);

      // Series i holds seriesValue(i) in each process that has it: shared series are summed over
      // every process, a distinct series is one process's own.
      const expected = distinct
        ? [0, processes * series - 1].map((i) => seriesLine(METRIC, i, seriesValue(i)))
        : [0, series - 1].map((i) => seriesLine(METRIC, i, processes * seriesValue(i)));
      const collector = new RedisMultiProcessCollector({ client: redis, keyPrefix: prefix });
      let module: Latency | undefined;
      const longestRedisCall = await longestCallDuring(redis, async () => {
        module = await time(() => collector.metrics(), expected, options);
      });
      const aggregated = await time(() => aggregator.clusterMetrics(), expected, options);
      results.push({
        processes,
        seriesPerProcess: series,
        distinct,
        module: module!,
        longestRedisCall,
        aggregator: aggregated,
      });
      console.log(
        `  scrape ${processes} × ${series}${distinct ? ' distinct' : ''}: module ${module!.failure ?? `${module!.medianMs.toFixed(1)} ms`} (longest Redis call ${longestRedisCall.ms.toFixed(2)} ms, ${longestRedisCall.command}), AggregatorRegistry ${
          aggregated.failure ?? `${aggregated.medianMs.toFixed(1)} ms`
        }`,
      );
      await redis.flushdb();
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
