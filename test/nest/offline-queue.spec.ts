import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { RedisStorageManager } from '../../src/index.js';
import { startAofRedis } from '../harness/aof-redis.js';
import { waitFor } from '../harness/redis-processes.mjs';

type RedisProcess = Awaited<ReturnType<typeof startAofRedis>>;

// Outages of several seconds, and a reconnection after them, on a loaded machine.
jest.setTimeout(60_000);

const FLUSH_MS = 200;
/** stallAfterMs(200): the flush interval and two seconds. */
const WAIT_MS = 2200;

/** A line logged, with when (Date.now()). */
interface Line {
  at: number;
  text: string;
}

/**
 * A client of the user's with ioredis' defaults (offline queue on, 20 retries per request) holds a
 * flush's write while Redis is away, for over a minute; the module's own client fails it at once. The
 * logs must say the same either way: once that flushing waits, with the cause, and once that it works.
 */
describe("a flush that waits in a client's offline queue is logged once, and its recovery once", () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** A manager on a client of the user's with ioredis' defaults, and what it logs. */
  async function managerOnUsersClient(server: RedisProcess, keyPrefix: string) {
    const client = new Redis({ host: '127.0.0.1', port: server.port });
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    const warnings: Line[] = [];
    const logs: Line[] = [];
    const registry = new Registry();
    const orders = new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] });
    const manager = new RedisStorageManager(
      {
        client,
        keyPrefix,
        registry,
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: FLUSH_MS,
      },
      {
        warn: (text: string) => warnings.push({ at: Date.now(), text }),
        log: (text: string) => logs.push({ at: Date.now(), text }),
        error: (text: string) => warnings.push({ at: Date.now(), text }),
      },
    );
    cleanups.push(() => manager.teardown());
    expect(await manager.setup()).toBe(true);
    return { client, manager, orders, warnings, logs };
  }

  /** Commands the client holds until Redis answers: those not sent yet and those sent. */
  function held(client: Redis): number {
    const queues = client as unknown as {
      offlineQueue: { length: number };
      commandQueue: { length: number };
    };
    return queues.offlineQueue.length + queues.commandQueue.length;
  }

  const waiting = (keyPrefix: string, cause: string) =>
    `Flushing metrics to Redis under prefix "${keyPrefix}" has waited over ${WAIT_MS} ms for an answer; counting goes on in memory, and one flush at a time waits until it comes: ${cause}`;
  const worksAgain = (keyPrefix: string) =>
    `Flushing metrics to Redis under prefix "${keyPrefix}" works again.`;

  it('Redis killed: the wait is logged within a few intervals with the refused connection, and the recovery once, every count kept', async () => {
    const server = await startAofRedis('offline-queue-kill', cleanups);
    const { client, manager, orders, warnings, logs } = await managerOnUsersClient(
      server,
      'queued',
    );
    orders.inc(2);
    await manager.flush();

    await server.kill();
    const killedAt = Date.now();
    orders.inc(3);
    await waitFor('the wait to be logged', async () => warnings.length > 0, { timeoutMs: 8000 });
    const health = await manager.health();
    // Ten more intervals: the ticks meanwhile share one flush behind the waiting one.
    await new Promise((resolve) => setTimeout(resolve, 10 * FLUSH_MS));
    const heldWhileDown = held(client);
    const warningsWhileDown = warnings.map((line) => line.text);
    await server.restart();
    await waitFor(
      'the recovery to be logged',
      async () => logs.some((line) => line.text === worksAgain('queued')),
      { timeoutMs: 15_000 },
    );
    await manager.flush();
    const scrape = await manager.metrics();

    const cause = `connection refused at 127.0.0.1:${server.port} (is Redis running there? check the client's host / port options)`;
    expect(warningsWhileDown).toEqual([waiting('queued', cause)]);
    // Logged after WAIT_MS of one flush, which started at most an interval before the kill; before,
    // the first line came when ioredis gave the write up, 76 s after the kill at the default interval.
    const loggedAfter = warnings[0].at - killedAt;
    expect(loggedAfter).toBeGreaterThanOrEqual(WAIT_MS - FLUSH_MS);
    expect(loggedAfter).toBeLessThan(WAIT_MS + 2500);
    // Health names the same cause while the flush waits.
    expect(health.status).toBe('degraded');
    expect(health.error).toMatch(
      new RegExp(
        `^no write acknowledged for \\d+ ms: a flush has waited \\d+ ms for Redis: ${cause.replace(/[().?]/g, '\\$&')}$`,
      ),
    );
    // One write waits in the client, not one per tick.
    expect(heldWhileDown).toBe(1);
    // Nothing more was warned (no "failed" line after the wait, no repair), and one recovery line.
    expect(warnings.map((line) => line.text)).toEqual([waiting('queued', cause)]);
    expect(logs.filter((line) => line.text === worksAgain('queued'))).toHaveLength(1);
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('\norders_total 5\n');
  });

  it('Redis paused (CLIENT PAUSE): the wait is logged as no answer on a live connection, and the recovery once', async () => {
    const server = await startAofRedis('offline-queue-pause', cleanups);
    const { manager, orders, warnings, logs } = await managerOnUsersClient(server, 'paused-queue');
    orders.inc();
    await manager.flush();
    const admin = new Redis({ host: '127.0.0.1', port: server.port });
    cleanups.push(() => admin.disconnect());

    await admin.call('CLIENT', 'PAUSE', '6000', 'ALL');
    const pausedAt = Date.now();
    orders.inc();
    await waitFor('the wait to be logged', async () => warnings.length > 0, { timeoutMs: 5500 });
    const loggedAfter = warnings[0].at - pausedAt;
    const health = await manager.health();
    await waitFor(
      'the recovery to be logged',
      async () => logs.some((line) => line.text === worksAgain('paused-queue')),
      { timeoutMs: 15_000 },
    );
    await manager.flush();
    const scrape = await manager.metrics();

    expect(warnings.map((line) => line.text)).toEqual([
      waiting('paused-queue', 'no answer yet (Redis slow, paused or out of reach)'),
    ]);
    expect(loggedAfter).toBeGreaterThanOrEqual(WAIT_MS - FLUSH_MS);
    expect(loggedAfter).toBeLessThan(WAIT_MS + 2500);
    expect(health.error).toMatch(
      /^no write acknowledged for \d+ ms: a flush has waited \d+ ms for Redis \(slow or unreachable\)$/,
    );
    expect(logs.filter((line) => line.text === worksAgain('paused-queue'))).toHaveLength(1);
    expect(scrape.status).toBe(200);
    expect(scrape.body).toContain('\norders_total 2\n');
  });
});
