import 'reflect-metadata';

import { Module, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';

import { RedisMetricsModule, RedisMetricsService, RedisStorageManager } from '../../src/index.js';
import { startPrivateRedis } from '../harness/aof-redis.js';
import { freePort } from '../harness/redis-server.mjs';

const FIELD = '["orders_total",{}]';

/**
 * An app counting orders into a private Redis, with 5 flushed and 3 more counted since, after which
 * `fault` does to its Redis what the test is about.
 */
async function appCountingOrders(
  prefix: string,
  scrapeTimeoutMs: number,
  cleanups: (() => Promise<unknown> | unknown)[],
  fault: (redis: { server: { kill(): Promise<unknown> }; admin: Redis }) => Promise<void>,
) {
  const server = await startPrivateRedis(prefix, cleanups, ['--appendonly', 'no']);
  const admin = new Redis({ port: server.port, host: '127.0.0.1' });
  cleanups.push(() => admin.disconnect());
  const warnings: string[] = [];
  const logger: LoggerService = {
    log: () => undefined,
    error: () => undefined,
    warn: (message: unknown) => void warnings.push(String(message)),
  };
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        enabled: true,
        url: `redis://127.0.0.1:${server.port}`,
        keyPrefix: prefix,
        flushIntervalMs: 100,
        scrapeTimeoutMs,
        // Its own: the global registry would carry one test's counts into the next.
        registry: new Registry(),
        defaultMetrics: false,
      }),
    ],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger });
  await app.init();
  let closed = false;
  cleanups.push(() => (closed ? undefined : app.close()));
  const metrics = app.get(RedisMetricsService);
  const orders = metrics.counter({ name: 'orders_total', help: 'Orders' });
  orders.inc(5);
  expect((await metrics.flush())?.ok).toBe(true);
  orders.inc(3);
  await fault({ server, admin });
  const close = async () => {
    await app.close();
    closed = true;
  };
  return { server, admin, warnings, close, manager: app.get(RedisStorageManager) };
}

/**
 * A shutdown whose last flush Redis refuses for a moment (a slot migrating, a failover under way):
 * the flush is tried again within the shutdown's allowance, so what the process counted since its
 * last flush reaches the totals. Here the refusal is READONLY, from a server made a replica of a master
 * that does not exist (it keeps its data and refuses writes) and then a master again.
 */
describe('the last flush at shutdown, refused by Redis for a moment', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** An app with 5 counts flushed and 3 more counted since, whose Redis now refuses writes. */
  const appWithUnflushedCounts = (prefix: string, scrapeTimeoutMs: number) =>
    appCountingOrders(prefix, scrapeTimeoutMs, cleanups, async ({ admin }) => {
      // Writes refused from now on: a replica of a master that is not there keeps its data.
      await admin.call('REPLICAOF', '127.0.0.1', String(await freePort()));
    });

  it('is tried again until Redis takes it: all 8 counts in the totals (5 before)', async () => {
    const { admin, warnings, close } = await appWithUnflushedCounts('refused-then-taken', 5000);

    const closing = close();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await admin.call('REPLICAOF', 'NO', 'ONE');
    await closing;

    // Before: 'v 5', and "failed while this process stopped flushing, and is not retried".
    expect(await admin.hget('{refused-then-taken}:totals', FIELD)).toBe('v 8');
    expect(warnings.filter((line) => /not retried|Gave up/.test(line))).toEqual([]);
  }, 30_000);

  it('is tried again across a reconnect, as a Sentinel failover makes one: all 8 counts in the totals', async () => {
    const { admin, warnings, close } = await appWithUnflushedCounts(
      'refused-then-reconnected',
      5000,
    );

    const closing = close();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // What Sentinel does to the server it makes a master (MULTI, REPLICAOF, CLIENT KILL TYPE normal,
    // EXEC), and a new connection's ready check held up for a moment (paused here).
    await admin
      .multi()
      .call('REPLICAOF', 'NO', 'ONE')
      .call('CLIENT', 'KILL', 'TYPE', 'normal')
      .call('CLIENT', 'PAUSE', '1000', 'ALL')
      .exec();
    await closing;

    // Before: 'v 5', the retries ending at the first "Stream isn't writeable" while reconnecting,
    // after a warning that promised them until the shutdown gives up, and no word of the loss.
    expect(await admin.hget('{refused-then-reconnected}:totals', FIELD)).toBe('v 8');
    expect(warnings.filter((line) => /not retried|Gave up/.test(line))).toEqual([]);
  }, 30_000);

  it('a second teardown() waits for the first, which is still trying the last flush again', async () => {
    const { admin, manager, close } = await appWithUnflushedCounts('torn-down-twice', 5000);

    const first = manager.teardown();
    let secondDone = false;
    const second = manager.teardown().then(() => (secondDone = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Before: the second call returned at once, while the first still tried the last flush (a
    // caller going on to close a client it gave the module would cut that flush short).
    expect(secondDone).toBe(false);
    await admin.call('REPLICAOF', 'NO', 'ONE');
    await Promise.all([first, second]);

    expect(await admin.hget('{torn-down-twice}:totals', FIELD)).toBe('v 8');
    await close();
  }, 30_000);

  it('says what is lost when a retry fails for a reason that does not pass', async () => {
    const { admin, warnings, close } = await appWithUnflushedCounts('refused-then-full', 5000);

    const closing = close();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // A master again, but full: OOM is not retried.
    await admin.multi().config('SET', 'maxmemory', '1').call('REPLICAOF', 'NO', 'ONE').exec();
    await closing;

    expect(await admin.hget('{refused-then-full}:totals', FIELD)).toBe('v 5');
    // Before: only the warning that the flush is tried again until written or the shutdown gives up.
    expect(warnings.filter((line) => line.startsWith('Gave up'))).toEqual([
      expect.stringMatching(
        /^Gave up flushing metrics to Redis under prefix "refused-then-full" at shutdown \(OOM: .*\): what this process counted since its last written flush is lost\.$/,
      ),
    ]);
  }, 30_000);

  it('gives up when the shutdown allowance runs out, and says what is lost', async () => {
    const { admin, warnings, close } = await appWithUnflushedCounts('refused-for-good', 1000);

    const started = performance.now();
    await close();
    const closeMs = performance.now() - started;

    expect(await admin.hget('{refused-for-good}:totals', FIELD)).toBe('v 5');
    // The allowance (scrapeTimeoutMs) bounds the retries; the client's QUIT comes after.
    expect(closeMs).toBeGreaterThanOrEqual(1000);
    expect(closeMs).toBeLessThan(3000);
    expect(warnings).toContain(
      'Gave up flushing metrics to Redis under prefix "refused-for-good" at shutdown: what this process counted since its last written flush is lost.',
    );
  }, 30_000);
});

describe('the last flush at shutdown, with Redis out of reach since before it', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('says at shutdown that what was counted since the last written flush is lost', async () => {
    const { server, warnings, close } = await appCountingOrders(
      'gone-before-stop',
      5000,
      cleanups,
      ({ server: redis }) => redis.kill().then(() => undefined),
    );
    // A flush fails and says that counting goes on and is retried.
    const deadline = Date.now() + 5000;
    while (!warnings.some((w) => w.startsWith('Flushing metrics')) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(warnings).toEqual([
      expect.stringMatching(
        /^Flushing metrics to Redis under prefix "gone-before-stop" failed; counting goes on in memory and is retried every 100 ms: /,
      ),
    ]);

    await close();

    // Before: nothing more, the last line saying the counts were still to be retried; but once, when
    // the reconnection met a refused connection after the first line met the lost one, that cause.
    const stillFails = `Flushing metrics to Redis under prefix "gone-before-stop" still fails, now because: connection refused at 127.0.0.1:${server.port} (is Redis running there? check the url option); counting goes on in memory and is retried every 100 ms`;
    expect(warnings.slice(1).filter((line) => line === stillFails).length).toBeLessThanOrEqual(1);
    expect(warnings.slice(1).filter((line) => line !== stillFails)).toEqual([
      `Gave up flushing metrics to Redis under prefix "gone-before-stop" at shutdown (connection refused at 127.0.0.1:${server.port} (is Redis running there? check the url option)): what this process counted since its last written flush is lost.`,
    ]);
  }, 30_000);
});
