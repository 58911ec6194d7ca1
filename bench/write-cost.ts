// What a write of changed series costs Redis, by series type: one process flushing series of one type
// to a private redis-server, every series changed before each flush; the write script's own time by
// Redis' clock (`INFO commandstats`), per changed series.
import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import { interquartileSpread, median } from './lib/stats.js';

export type WrittenType = 'counter' | 'gauge' | 'histogram';

export interface WriteCost {
  type: WrittenType;
  series: number;
  rounds: number;
  /** Microseconds of the write script per changed series: the median over the rounds. */
  medianUs: number;
  /** (third quartile − first quartile) ÷ median of the rounds. */
  spread: number;
}

/** A registry of `series` series of one type, and what changes every one of them. */
function seriesOfType(
  type: WrittenType,
  series: number,
): { registry: Registry; change(round: number): void } {
  const registry = new Registry();
  const labelNames = ['series'];
  const labels = Array.from({ length: series }, (_, i) => ({ series: String(i) }));
  if (type === 'counter') {
    const counter = new Counter({ name: 'c_total', help: 'c', labelNames, registers: [registry] });
    return { registry, change: () => labels.forEach((l) => counter.inc(l)) };
  }
  if (type === 'gauge') {
    const gauge = new Gauge({ name: 'g', help: 'g', labelNames, registers: [registry] });
    return { registry, change: (round) => labels.forEach((l) => gauge.set(l, round)) };
  }
  // prom-client's default buckets (11), one observation per series and round, in a bucket that moves.
  const histogram = new Histogram({
    name: 'h_seconds',
    help: 'h',
    labelNames,
    registers: [registry],
  });
  return {
    registry,
    change: (round) => labels.forEach((l, i) => histogram.observe(l, ((i + round) % 13) / 10)),
  };
}

/** Microseconds of EVALSHA per changed series in one flush. */
async function writeMicroseconds(
  redis: Redis,
  flusher: MetricsFlusher,
  series: number,
): Promise<number> {
  await redis.config('RESETSTAT');
  const result = await flusher.flush();
  // A failed flush, or one that wrote fewer series, would be timed per series it did not write.
  if (!result.ok || result.sent !== series) {
    throw new Error(`a flush of ${series} changed series sent ${result.sent} (ok: ${result.ok})`);
  }
  const stats = /cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await redis.info('commandstats'));
  if (!stats) throw new Error('INFO commandstats shows no EVALSHA after a flush');
  return Number(stats[1]) / series;
}

export async function benchWriteCost(
  redisUrl: string,
  { series, rounds }: { series: number; rounds: number },
): Promise<WriteCost[]> {
  const redis = new Redis(redisUrl);
  const results: WriteCost[] = [];
  try {
    for (const type of ['counter', 'gauge', 'histogram'] as const) {
      await redis.flushall();
      const { registry, change } = seriesOfType(type, series);
      change(0);
      const flusher = new MetricsFlusher({
        store: new RedisMetricsStore(redis, `bench-write-${type}`),
        identity: ProcessIdentity.create(),
        registry,
        intervalMs: 3_600_000,
        gaugeModeOf: () => 'all',
      });
      await flusher.flush();
      const samples: number[] = [];
      for (let round = 1; round <= rounds; round += 1) {
        change(round);
        samples.push(await writeMicroseconds(redis, flusher, series));
      }
      await flusher.stop();
      results.push({
        type,
        series,
        rounds,
        medianUs: median(samples),
        spread: interquartileSpread(samples),
      });
    }
  } finally {
    await redis.quit();
  }
  return results;
}
