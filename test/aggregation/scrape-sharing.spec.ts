import { Counter, Registry } from 'prom-client';

import { MemoryMetricsStore, MetricsScrape, RedisMultiProcessCollector } from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

// Scrapes that come while a read runs share it; a read that never ends (a fresh-scrape wait or a
// client that hangs) must not be shared for ever, or every later scrape would time out with it.
describe('scrapes share a read in progress, but not one that is stuck', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('scrape-sharing');

  beforeAll(async () => {
    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] }).inc(7);
    expect((await testFlusher(redis.client, prefix, registry).flush()).ok).toBe(true);
  });

  /** A scrape whose `beforeRead` hook never settles on its first call, and settles at once after. */
  function scrapeWithStuckFirstRead(timeoutMs: number) {
    let reads = 0;
    const scrape = new MetricsScrape({
      collector: new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix }),
      registry: new Registry(),
      timeoutMs,
      fallback: 'none',
      logger: { warn: () => undefined, log: () => undefined },
      onLostData: () => undefined,
      beforeRead: () => {
        reads += 1;
        return reads === 1 ? new Promise(() => undefined) : Promise.resolve();
      },
    });
    return { scrape, reads: () => reads };
  }

  it('a scrape that comes while the stuck read is young shares it and times out with it', async () => {
    const { scrape, reads } = scrapeWithStuckFirstRead(300);

    const [first, second] = await Promise.all([scrape.respond(), scrape.respond()]);

    expect([first.status, second.status]).toEqual([503, 503]);
    expect(reads()).toBe(1);
  });

  it('a scrape after the stuck read outlived the timeout starts a read of its own and answers', async () => {
    const { scrape, reads } = scrapeWithStuckFirstRead(300);

    const first = await scrape.respond();
    // The next scrape comes a little later, as Prometheus' next one would.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = await scrape.respond();

    expect(first.status).toBe(503);
    expect(first.body).toBe(
      `the metrics of every process could not be read from Redis under prefix "${prefix}": no answer within 300 ms, while asking every process to flush now (fresh scrape)\n`,
    );
    expect(second.status).toBe(200);
    expect(second.body).toContain('\njobs_total 7\n');
    expect(reads()).toBe(2);
  });

  /** A scrape (200 ms timeout) whose storage set-up neither connects nor gives up. */
  function scrapeNeverReady(collector: RedisMultiProcessCollector) {
    return new MetricsScrape({
      collector,
      registry: new Registry(),
      timeoutMs: 200,
      fallback: 'none',
      logger: { warn: () => undefined, log: () => undefined },
      onLostData: () => undefined,
      whenReady: () => new Promise(() => undefined),
    });
  }

  it('names the storage set-up when a scrape timed out waiting for it', async () => {
    // Before, the text named only the time.
    const scrape = scrapeNeverReady(
      new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix }),
    );

    const response = await scrape.respond();

    expect(response).toEqual({
      status: 503,
      contentType: 'text/plain; charset=utf-8',
      body: `the metrics of every process could not be read from Redis under prefix "${prefix}": no answer within 200 ms, while the storage set-up connected and wrote this process's first values\n`,
    });
  });

  it('names the store it reads when that is not Redis', async () => {
    const scrape = scrapeNeverReady(
      new RedisMultiProcessCollector({ store: new MemoryMetricsStore() }),
    );

    const response = await scrape.respond();

    // It said "from Redis" whatever the store, a cluster primary's over IPC included.
    expect(response.body).toBe(
      "the metrics of every process could not be read from this process's memory: no answer within 200 ms, while the storage set-up connected and wrote this process's first values\n",
    );
  });
});
