import 'reflect-metadata';

import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';

import {
  RedisMetricsModule,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { makeTempDir, removeTempDir, startRedisProcess } from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { waitFor } from '../harness/writer-processes.js';

async function startApp(options: RedisMetricsModuleOptions): Promise<INestApplication> {
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 200,
        livenessWindowMs: 1000,
        ...options,
      }),
    ],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

/** Times one request; `status`, body text and how long it took. */
async function timed(
  server: unknown,
  path: string,
): Promise<{ status: number; text: string; ms: number }> {
  const started = Date.now();
  const response = await request(server as Parameters<typeof request>[0]).get(path);
  return { status: response.status, text: response.text, ms: Date.now() - started };
}

describe('a slow or silent Redis never holds up probes, scrapes or bootstrap', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A private redis-server on a port of its own, stopped and removed after the test. */
  async function plainRedis(name: string) {
    const dir = await makeTempDir(name);
    cleanups.push(() => removeTempDir(dir));
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    });
    cleanups.push(() => server.kill());
    return server;
  }

  it('answers /metrics/health at once and /metrics within its timeout while Redis sleeps for 5 s', async () => {
    const dir = await makeTempDir('debug-sleep');
    cleanups.push(() => removeTempDir(dir));
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--enable-debug-command',
        'local',
      ],
    });
    cleanups.push(() => server.kill());
    const app = await startApp({
      url: `redis://127.0.0.1:${server.port}`,
      keyPrefix: 'slow',
      scrapeTimeoutMs: 1000,
    });
    cleanups.push(() => app.close());
    expect(await app.get(RedisStorageManager).setup()).toBe(true);
    const http = app.getHttpServer();
    await request(http).get('/metrics').expect(200);

    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    cleanups.push(() => admin.disconnect());
    await admin.ping(); // connected: the stall starts when it is sent
    const stall = admin.call('DEBUG', 'SLEEP', '5');
    const stalledAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const healthEarly = await timed(http, '/metrics/health');
    const scrape = await timed(http, '/metrics');
    // After two flush intervals plus the stall margin the flusher has waited too long.
    await waitFor(async () => (await timed(http, '/metrics/health')).status === 503, 4000);
    // 2.25 s without an acknowledged write (the flush interval plus 2 s), the last one up to an
    // interval before the stall.
    const degradedAfter = Date.now() - stalledAt;
    const healthLate = await timed(http, '/metrics/health');
    const lateBody = (await request(http).get('/metrics/health')).body;
    const stillStalled = Date.now() - stalledAt < 5000;
    await stall;

    expect(stillStalled).toBe(true);
    expect(healthEarly.status).toBe(200);
    expect(healthEarly.ms).toBeLessThan(1000);
    expect(scrape.status).toBe(503);
    // Answered by the scrape timeout, not by Redis, naming the call that was stuck.
    expect(scrape.text).toBe(
      'the metrics of every process could not be read from Redis under prefix "slow": no answer within 1000 ms, while asking every process to flush now (fresh scrape)\n',
    );
    expect(scrape.ms).toBeLessThan(2500);
    expect(degradedAfter).toBeGreaterThanOrEqual(1900);
    expect(degradedAfter).toBeLessThan(3500);
    expect(healthLate).toMatchObject({ status: 503 });
    expect(healthLate.ms).toBeLessThan(1000);
    expect(lateBody.error).toMatch(
      /^no write acknowledged for \d+ ms: a flush has waited \d+ ms for Redis \(slow or unreachable\)$/,
    );
  });

  it('closes within scrapeTimeoutMs in all while Redis is paused: the waits of a shutdown share one allowance', async () => {
    const server = await plainRedis('client-pause');
    const app = await startApp({
      url: `redis://127.0.0.1:${server.port}`,
      keyPrefix: 'paused',
      scrapeTimeoutMs: 1000,
    });
    expect(await app.get(RedisStorageManager).setup()).toBe(true);
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '8000', 'ALL');

    const closing = Date.now();
    await app.close();
    const closeMs = Date.now() - closing;

    // The flush before the HTTP server closes, the last one, the end and QUIT each waited up to
    // 1000 ms before (and QUIT as long as the client's command timeout): now all of them together.
    expect(closeMs).toBeGreaterThanOrEqual(1000);
    expect(closeMs).toBeLessThan(1800);
  });

  /** A manager set up on the server at `port`, flushing every 200 ms, with the warnings it logs. */
  async function runningManager(port: number, keyPrefix: string, scrapeTimeoutMs: number) {
    const warnings: string[] = [];
    const manager = new RedisStorageManager(
      {
        url: `redis://127.0.0.1:${port}`,
        keyPrefix,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 200,
        scrapeTimeoutMs,
      },
      { warn: (line: string) => warnings.push(line), log: () => undefined, error: () => undefined },
    );
    cleanups.push(() => manager.teardown());
    expect(await manager.setup()).toBe(true);
    return { manager, warnings };
  }

  /**
   * A running manager torn down while its Redis is paused (`CLIENT PAUSE`) with a flush under way:
   * what it had warned when the teardown returned, and a little after, once that flush settled.
   * @param failedBefore a first flush times out (after the client's 5 s) before the one under way.
   */
  async function teardownWhilePaused(
    label: string,
    prefix: string,
    allowanceMs: number,
    pauseMs: number,
    { failedBefore = false } = {},
  ) {
    const server = await plainRedis(label);
    const { manager, warnings } = await runningManager(server.port, prefix, allowanceMs);
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
    if (failedBefore) expect((await manager.flush())?.ok).toBe(false);
    const running = manager.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));

    await manager.teardown();
    const atTeardown = [...warnings];
    const underWay = await running;
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { port: server.port, id: manager.identity.id, atTeardown, warnings, underWay };
  }

  it('logs why the flush under way at a shutdown failed when the last flush is still stuck as the shutdown gives up', async () => {
    // An allowance longer than the client's 5 s command timeout: the flush under way times out within
    // it; the last flush, queued behind it, is stuck until the allowance is over, and only the
    // shutdown's disconnect ends it.
    const { port, atTeardown, warnings, underWay } = await teardownWhilePaused(
      'stop-pause',
      'stop-paused',
      6500,
      15000,
    );

    expect(underWay?.ok).toBe(false);
    const line = `Flushing metrics to Redis under prefix "stop-paused" failed while this process stopped flushing, and is not retried: no answer from 127.0.0.1:${port} within the command timeout (is Redis overloaded or paused?)`;
    // Before, it said nothing by the end of the teardown, then blamed the teardown's own disconnect.
    expect(atTeardown).toEqual([line]);
    expect(warnings).toEqual([line]);
  });

  // PM2 stopping a worker while Redis was paused: the process exited after the 5 s allowance, 311 of
  // the requests it answered never counted, and its last line was the flush's wait of 2250 ms.
  it('says that the shutdown gave up on a last flush still waiting for a paused Redis, when nothing else tells of it', async () => {
    // The allowance is over before the client's 5 s command timeout fails the flush under way.
    const { id, atTeardown, warnings } = await teardownWhilePaused(
      'gave-up',
      'gave-up',
      1000,
      8000,
    );

    const line =
      `The last flush of this process (${id}) to Redis under prefix "gave-up" got no answer within the shutdown's 1000 ms (scrapeTimeoutMs): ` +
      'what it counted since its last acknowledged flush may never reach the totals, and its gauges stay until a live process ends it (ttlSeconds).';
    // Before, it said nothing at all.
    expect(atTeardown).toEqual([line]);
    expect(warnings).toEqual([line]);
  });

  // Redis paused for longer than the client's command timeout, then a stop: the flush under way times
  // out as the one before it did, and the last flush is still stuck when the allowance is over.
  it('says that the shutdown gave up on a last flush still waiting, when the flush under way failed as the one before it', async () => {
    // An allowance longer than the client's 5 s command timeout: the flush under way fails within it.
    const { id, atTeardown, warnings } = await teardownWhilePaused(
      'failed-then-gave-up',
      'failed-gave-up',
      6500,
      20000,
      { failedBefore: true },
    );

    const waited = `Flushing metrics to Redis under prefix "failed-gave-up" has waited over 2200 ms for an answer; counting goes on in memory, and one flush at a time waits until it comes: no answer yet (Redis slow, paused or out of reach)`;
    const gaveUp =
      `The last flush of this process (${id}) to Redis under prefix "failed-gave-up" got no answer within the shutdown's 6500 ms (scrapeTimeoutMs): ` +
      'what it counted since its last acknowledged flush may never reach the totals, and its gauges stay until a live process ends it (ttlSeconds).';
    // Before, the last line was the wait's: counting goes on, and one flush waits.
    expect(atTeardown).toEqual([waited, gaveUp]);
    expect(warnings).toEqual([waited, gaveUp]);
  }, 30_000);

  it('names the read of every process when a scrape without fresh scrapes times out on a paused Redis', async () => {
    const server = await plainRedis('read-pause');
    const app = await startApp({
      url: `redis://127.0.0.1:${server.port}`,
      keyPrefix: 'read-paused',
      scrapeTimeoutMs: 500,
      freshScrapeWaitMs: 0,
    });
    cleanups.push(() => app.close());
    expect(await app.get(RedisStorageManager).setup()).toBe(true);
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');

    const scrape = await request(app.getHttpServer()).get('/metrics');

    expect(scrape.status).toBe(503);
    expect(scrape.text).toBe(
      'the metrics of every process could not be read from Redis under prefix "read-paused": no answer within 500 ms, while reading every process\'s metrics\n',
    );
  });

  it('boots at once against a Redis that accepts connections and never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    );
    const port = (silent.address() as { port: number }).port;

    const started = Date.now();
    const app = await startApp({
      url: `redis://127.0.0.1:${port}`,
      keyPrefix: 'silent',
      scrapeTimeoutMs: 2000,
    });
    const bootMs = Date.now() - started;
    const health = await timed(app.getHttpServer(), '/metrics/health');
    const closing = Date.now();
    await app.close();
    const closeMs = Date.now() - closing;

    // Set-up waits up to 3 s for a connection before it goes on without one: booting must not.
    expect(bootMs).toBeLessThan(2500);
    expect(health.status).toBe(503);
    expect(health.ms).toBeLessThan(1000);
    // Closing waits for the connection, to deliver the last counts, within scrapeTimeoutMs in all.
    expect(closeMs).toBeGreaterThanOrEqual(2000);
    expect(closeMs).toBeLessThan(2800);
  });
});
