// One process's first flush, in a process of its own: `node fresh-first-flush.js <redis url> <series>`
// fills a registry, flushes it once and prints the flush's CPU (ms) as JSON. The flush runs as it does
// at a real start: code not yet optimised by V8, and no earlier flusher in the heap.
import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';
import { filledRegistry } from './series.js';
import { withCpuMs } from './stats.js';

async function main(): Promise<void> {
  const [redisUrl, seriesText] = process.argv.slice(2);
  const series = Number(seriesText);
  const redis = new Redis(redisUrl);
  try {
    const { registry } = filledRegistry(series);
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(redis, `bench-fresh-flush-${series}`),
      identity: ProcessIdentity.create(),
      registry,
      intervalMs: 60_000,
      gaugeModeOf: () => 'all',
    });
    const { value: result, cpuMs } = await withCpuMs(() => flusher.flush());
    if (!result.ok) throw new Error(`flush failed: ${result.error?.message}`);
    console.log(JSON.stringify({ cpuMs }));
  } finally {
    redis.disconnect();
  }
}

void main();
