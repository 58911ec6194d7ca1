import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';
import { Counter, Registry } from 'prom-client';

import { usedMemory } from './lib/private-redis.js';
import { fillCounter, SERIES_LABELS } from './lib/series.js';
import { longestCallDuring, type LongestCall } from './lib/slowlog.js';
import { median, since } from './lib/stats.js';

/** The cost of one flush of a process holding `series` series. */
export interface FlushCost {
  series: number;
  first: FlushSample;
  /** Script calls of the first flush (it is split into bounded batches). */
  firstCalls: number;
  /** The longest single Redis call of the first flush (SLOWLOG). */
  firstLongestCall: LongestCall;
  unchanged: FlushSample;
  tenPercentChanged: FlushSample;
  /** Redis memory per stored series, bytes (INFO memory before and after the first flush). */
  redisBytesPerSeries: number;
}

export interface FlushSample {
  /** CPU this process spent (user + system), ms, median. */
  cpuMs: number;
  /** Wall time of the flush, ms, median. */
  wallMs: number;
  /** Redis's own CPU for the flush, ms, median. */
  redisCpuMs: number;
}

async function redisCpuMs(client: Redis): Promise<number> {
  const text = await client.info('cpu');
  const read = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

async function measure(
  flusher: MetricsFlusher,
  redis: Redis,
): Promise<FlushSample & { calls: number }> {
  const redisBefore = await redisCpuMs(redis);
  const cpu = process.cpuUsage();
  const start = performance.now();
  const result = await flusher.flush();
  const wallMs = since(start);
  const used = process.cpuUsage(cpu);
  const redisAfter = await redisCpuMs(redis);
  if (!result.ok) throw new Error(`flush failed: ${result.error?.message}`);
  return {
    cpuMs: (used.user + used.system) / 1000,
    wallMs,
    redisCpuMs: redisAfter - redisBefore,
    calls: result.calls,
  };
}

const medianSample = (samples: FlushSample[]): FlushSample => ({
  cpuMs: median(samples.map((s) => s.cpuMs)),
  wallMs: median(samples.map((s) => s.wallMs)),
  redisCpuMs: median(samples.map((s) => s.redisCpuMs)),
});

/**
 * CPU per flush with nothing changed and with 10% of the series changed, at each size, in this
 * process (the flusher's own work: reading the registry, comparing, encoding, the script call).
 */
export async function benchFlush(
  redisUrl: string,
  { sizes, repeats }: { sizes: number[]; repeats: number },
): Promise<FlushCost[]> {
  const redis = new Redis(redisUrl);
  const results: FlushCost[] = [];
  try {
    for (const series of sizes) {
      await redis.flushdb();
      const registry = new Registry();
      const counter = new Counter({
        name: 'bench_requests_total',
        help: 'Requests, by series',
        labelNames: SERIES_LABELS,
        registers: [registry],
      });
      fillCounter(counter, series);
      const flusher = new MetricsFlusher({
        store: new RedisMetricsStore(redis, `bench-flush-${series}`),
        identity: ProcessIdentity.create(),
        registry,
        intervalMs: 60_000,
        gaugeModeOf: () => 'all',
      });
      const memoryBefore = await usedMemory(redis);
      let first: FlushSample & { calls: number } = { cpuMs: 0, wallMs: 0, redisCpuMs: 0, calls: 0 };
      const firstLongestCall = await longestCallDuring(redis, async () => {
        first = await measure(flusher, redis);
      });
      const redisBytesPerSeries = ((await usedMemory(redis)) - memoryBefore) / series;

      const unchanged: FlushSample[] = [];
      for (let i = 0; i < repeats; i += 1) unchanged.push(await measure(flusher, redis));

      const changed: FlushSample[] = [];
      for (let round = 0; round < repeats; round += 1) {
        // A different tenth of the series each round.
        for (let i = round % 10; i < series; i += 10) {
          counter.inc({ method: 'GET', route: '/items/:id', series: String(i), status: '200' });
        }
        changed.push(await measure(flusher, redis));
      }
      results.push({
        series,
        first,
        firstCalls: first.calls,
        firstLongestCall,
        unchanged: medianSample(unchanged),
        tenPercentChanged: medianSample(changed),
        redisBytesPerSeries,
      });
      const last = results[results.length - 1];
      console.log(
        `  flush ${series} series: unchanged ${last.unchanged.cpuMs.toFixed(1)} ms CPU, 10% changed ${last.tenPercentChanged.cpuMs.toFixed(1)} ms CPU, ${redisBytesPerSeries.toFixed(0)} B/series in Redis`,
      );
    }
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
  return results;
}
