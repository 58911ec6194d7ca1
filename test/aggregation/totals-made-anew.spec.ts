import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import {
  MergedScrapeUnavailableError,
  ProcessIdentity,
  RedisMultiProcessCollector,
  type MetricsFlusher,
} from '../../src/index.js';
import { startPrivateRedis } from '../harness/aof-redis.js';
import { testFlusher } from '../harness/test-flusher.js';

const GRACE_MS = 1000;

/**
 * Redis restarted empty or flushed: until an old writer writes again (and records `#lost-at`), the
 * totals hold nothing, or only what a process started since wrote. A collector that read the totals
 * before sees their `#born` stamp change (or go) and answers 503 for the grace.
 */
describe('totals made anew (Redis restarted empty or flushed) before any old writer wrote again', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startServer(label: string) {
    // Persistence off: a restart starts empty.
    const server = await startPrivateRedis(label, cleanups, ['--appendonly', 'no']);
    const client = new Redis({ port: server.port, host: '127.0.0.1', retryStrategy: () => 50 });
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    return { server, client };
  }

  /** A process whose counter `orders_total` is at `count`, flushed by hand. */
  function writer(client: Redis, prefix: string, pid: number, count: number): MetricsFlusher {
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(count);
    return testFlusher(client, prefix, registry, {
      identity: ProcessIdentity.create({ hostname: 'anew', pid }),
      // The old writers' repair warns; not what these tests are about.
      logger: { warn: () => undefined, log: () => undefined },
    });
  }

  function orders(text: string): string[] {
    return text.split('\n').filter((line) => line.startsWith('orders_total'));
  }

  /** Scrapes until one is served; returns it, and asserts it came no earlier than `notBefore`. */
  async function servedAfter(collector: RedisMultiProcessCollector, notBefore: number) {
    for (;;) {
      try {
        const text = await collector.metrics();
        expect(performance.now()).toBeGreaterThanOrEqual(notBefore);
        return text;
      } catch (error) {
        if (!(error instanceof MergedScrapeUnavailableError)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** Two processes that wrote 3 and 4 orders, and a collector whose scrape served their 7. */
  async function scrapedOnce(client: Redis, prefix: string) {
    const old = [writer(client, prefix, 1, 3), writer(client, prefix, 2, 4)];
    for (const flusher of old) expect((await flusher.flush()).ok).toBe(true);
    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      lostDataGraceMs: GRACE_MS,
      livenessWindowMs: 60_000,
    });
    expect(orders(await collector.metrics())).toEqual(['orders_total 7']);
    return { old, collector };
  }

  it('answers 503 after a restart, when a process started since wrote first, rather than only its counts; then the exact total', async () => {
    const { server, client } = await startServer('totals-anew');
    const prefix = 'anew';
    const { old, collector } = await scrapedOnce(client, prefix);

    await server.kill();
    await server.restart();
    // A process started after the restart writes first: a first write, which records no loss.
    expect((await writer(client, prefix, 3, 2).flush()).ok).toBe(true);
    const seen = performance.now();

    // Served before the fix: orders_total 2, a counter reset to Prometheus.
    const scrape = collector.metrics();
    await expect(scrape).rejects.toThrow(
      new MergedScrapeUnavailableError(
        `Redis under prefix "${prefix}" made its totals anew since the last scrape (Redis restarted empty or was flushed, or their key was deleted); live processes write their counts again at their next flush`,
      ),
    );
    const error = (await scrape.catch((e: unknown) => e)) as MergedScrapeUnavailableError;
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(GRACE_MS);

    // The old writers find the loss and write their counts again.
    for (const flusher of old) expect((await flusher.flush()).ok).toBe(true);
    expect(orders(await servedAfter(collector, seen + GRACE_MS))).toEqual(['orders_total 9']);
  }, 30_000);

  it('answers 503 after FLUSHALL before anyone wrote again, rather than no series at all; then the exact total', async () => {
    const { client } = await startServer('totals-flushed');
    const prefix = 'flushed';
    const { old, collector } = await scrapedOnce(client, prefix);

    await client.flushall();
    const seen = performance.now();

    // Served before the fix: no orders_total at all.
    await expect(collector.metrics()).rejects.toThrow(
      new MergedScrapeUnavailableError(
        `Redis under prefix "${prefix}" lost its totals since the last scrape (Redis restarted empty or was flushed, or their key was deleted, evicted or expired); live processes write their counts again at their next flush`,
      ),
    );

    for (const flusher of old) expect((await flusher.flush()).ok).toBe(true);
    expect(orders(await servedAfter(collector, seen + GRACE_MS))).toEqual(['orders_total 7']);
  }, 30_000);
});
