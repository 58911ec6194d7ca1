// A node:cluster worker of the scrape benchmark. On request it fills prom-client's global registry
// with a number of series and flushes them to Redis under a given prefix; prom-client's own cluster
// listener answers AggregatorRegistry's requests from the same registry.
import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';
import { AggregatorRegistry, Counter, register } from 'prom-client';

import { fillCounter, SERIES_LABELS } from '../lib/series.js';

/** What the primary asks of a worker. */
export interface PopulateRequest {
  cmd: 'populate';
  series: number;
  prefix: string;
  /** The first series number this worker holds (0: every worker holds the same series). */
  offset: number;
}

const redis = new Redis(process.env.BENCH_REDIS_URL!);

// Constructing one in a worker is what makes prom-client answer the primary's requests.
new AggregatorRegistry();

process.on('message', (message: PopulateRequest) => {
  if (message?.cmd !== 'populate') return;
  void (async () => {
    register.clear();
    const counter = new Counter({
      name: 'bench_requests_total',
      help: 'Requests, by series',
      labelNames: SERIES_LABELS,
    });
    fillCounter(counter, message.series, message.offset);
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(redis, message.prefix),
      identity: ProcessIdentity.create(),
      registry: register,
      intervalMs: 60_000,
      gaugeModeOf: () => 'all',
    });
    const result = await flusher.flush();
    process.send!({ cmd: 'populated', ok: result.ok, error: result.error?.message });
  })();
});

process.send!({ cmd: 'ready' });
