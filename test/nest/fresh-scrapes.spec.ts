import { Counter, Registry } from 'prom-client';

import { DEFAULT_REDIS_METRICS_OPTIONS, RedisStorageManager } from '../../src/index.js';
import { ORDERS, startAppFleet, type AppFleet } from '../harness/app-fleet.js';
import {
  makeTempDir,
  removeTempDir,
  startRedisProcess,
  waitFor,
} from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import {
  deletePrefix,
  connectTestRedis,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';

describe('fresh scrapes: a count made in one process is in a scrape of another at once', () => {
  const client = connectTestRedis();
  const fleets: AppFleet[] = [];
  const prefixes: string[] = [];
  afterAll(async () => {
    await Promise.all(fleets.map((fleet) => fleet.close()));
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  /**
   * Three apps whose background flush is far away: only a fresh scrape can see a new count. Without
   * `freshScrapeWaitMs`, the default.
   */
  async function fleet(freshScrapeWaitMs?: number): Promise<AppFleet> {
    const prefix = uniquePrefix('fresh');
    prefixes.push(prefix);
    const started = await startAppFleet(3, () => ({
      url: testRedisUrl(),
      keyPrefix: prefix,
      flushIntervalMs: 60_000,
      livenessWindowMs: 120_000,
      ttlSeconds: 300,
      ...(freshScrapeWaitMs === undefined ? {} : { freshScrapeWaitMs }),
    }));
    fleets.push(started);
    return started;
  }

  /** Counts 5 orders in one app, then scrapes another: the orders line, and how long the scrape took. */
  async function countThenScrapeAnother(
    apps: AppFleet,
  ): Promise<{ line: string | undefined; scrapeMs: number }> {
    const [first, second] = await Promise.all(apps.apps.map((app) => app.getUrl()));
    for (let i = 0; i < 5; i += 1) await fetch(`${first}/orders`, { method: 'POST' });
    const started = Date.now();
    const text = await (await fetch(`${second}/metrics`)).text();
    return {
      line: text.split('\n').find((line) => line.startsWith(`${ORDERS} `)),
      scrapeMs: Date.now() - started,
    };
  }

  it('waits 250 ms at most by default', async () => {
    const apps = await fleet();
    expect(DEFAULT_REDIS_METRICS_OPTIONS.freshScrapeWaitMs).toBe(250);
    expect(apps.apps[0].get(RedisStorageManager).options.freshScrapeWaitMs).toBe(250);
  });

  it('asks every process to flush before reading', async () => {
    // A wait long enough for three apps sharing one loaded test process to answer: the scrape goes on
    // as soon as all have.
    const apps = await fleet(5000);
    const { line, scrapeMs } = await countThenScrapeAnother(apps);
    expect(line).toBe(`${ORDERS} 5`);
    // Not the whole wait: its cap here is half the 5 s scrape timeout.
    expect(scrapeMs).toBeLessThan(2000);
  });

  it('without it, a scrape shows what processes last flushed', async () => {
    const apps = await fleet(0);
    expect((await countThenScrapeAnother(apps)).line).toBe(`${ORDERS} 0`);
  });
});

describe('fresh scrapes when Redis is away at start-up', () => {
  const managers: RedisStorageManager[] = [];
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    // The apps first, while Redis still runs, then the server.
    for (const made of managers) await made.teardown();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  function manager(port: number, warnings: string[] = []) {
    const registry = new Registry();
    const counter = new Counter({ name: 'late_total', help: 'Late', registers: [registry] });
    const made = new RedisStorageManager(
      {
        url: `redis://127.0.0.1:${port}`,
        keyPrefix: 'late-redis',
        registry,
        defaultMetrics: false,
        httpMetrics: false,
        // Only a fresh scrape can make it write before a read.
        flushIntervalMs: 60_000,
      },
      {
        log: () => undefined,
        warn: (message) => void warnings.push(message),
        error: () => undefined,
      },
    );
    managers.push(made);
    return { manager: made, counter };
  }

  it('a process started before Redis hears fresh-scrape requests once Redis is up', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    const late = manager(port, warnings);
    const setup = late.manager.setup();
    // Redis comes up after the subscriber has failed to reconnect a few times, and after the 5 s command
    // timeout has rejected its SUBSCRIBE (which ioredis still sends once connected).
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const dir = await makeTempDir('late-redis');
    cleanups.push(() => removeTempDir(dir));
    const server = await startRedisProcess({
      dir,
      port,
      args: (p: number) => ['--port', String(p), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
    });
    cleanups.push(() => server.kill());
    expect(await setup).toBe(false);
    await waitFor('the late process to reach Redis', async () => (await late.manager.flush())?.ok);

    const scraping = manager(port);
    expect(await scraping.manager.setup()).toBe(true);
    late.counter.inc(3);
    const response = await scraping.manager.metrics();
    expect(response.status).toBe(200);
    expect(response.body).toContain('\nlate_total 3\n');
    // So nothing said it would not hear them.
    expect(warnings.filter((warning) => warning.includes('Fresh scrapes are off'))).toEqual([]);
  });
});
