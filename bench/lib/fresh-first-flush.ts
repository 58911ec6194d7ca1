// One process's first flush, in a process of its own: `node fresh-first-flush.js <redis url> <series>
// [bare]` fills a registry, flushes it once and prints the flush's CPU (ms) and the longest the event
// loop waited meanwhile (ms) as JSON. The flush runs as it does at a real start: code not yet optimised
// by V8, and no earlier flusher in the heap. With `bare`, the bare first-flush loop runs instead (its
// ledger on): the baseline of the event loop's longest wait, as it builds every field before it yields.
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';
import { bareFirstFlush } from './bare-first-flush.js';
import { filledRegistry } from './series.js';
import { withCpuMs } from './stats.js';

async function main(): Promise<void> {
  const [redisUrl, seriesText, mode] = process.argv.slice(2);
  const series = Number(seriesText);
  const redis = new Redis(redisUrl);
  try {
    const { registry, counter } = filledRegistry(series);
    const flusher =
      mode === 'bare'
        ? undefined
        : new MetricsFlusher({
            store: new RedisMetricsStore(redis, `bench-fresh-flush-${series}`),
            identity: ProcessIdentity.create(),
            registry,
            intervalMs: 60_000,
            gaugeModeOf: () => 'all',
          });
    await redis.ping();
    // A timer every millisecond: how late it fires is how long the event loop was held.
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    // It measures from its first tick on: a block before that would go unseen.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const { value: result, cpuMs } = await withCpuMs(async () => {
      if (flusher) return flusher.flush();
      await bareFirstFlush(counter, redis, { ledger: true });
      return { ok: true, error: undefined };
    });
    delay.disable();
    if (!result.ok) throw new Error(`flush failed: ${result.error?.message}`);
    console.log(JSON.stringify({ cpuMs, longestGapMs: delay.max / 1e6 }));
  } finally {
    redis.disconnect();
  }
}

void main();
