import { jest } from '@jest/globals';
import { Redis } from 'ioredis';

import {
  createRedisClient,
  resolveRedisMetricsOptions,
  type FlushRequestOutcome,
} from '../../src/index.js';
import type { RedisClient } from '../../src/storage/lua-scripts.js';
import { FlushRequests } from '../../src/storage/flush-requests.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';

type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;

// A Redis stopped and started again, and reconnections of up to 2 s each.
jest.setTimeout(60_000);

describe('fresh scrapes over Redis pub/sub (FlushRequests), on a private Redis', () => {
  let redis: PrivateRedis;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** The module's own client (its settings: no offline queue, one retry, 5 s command timeout). */
  function moduleClient(): RedisClient {
    const client = createRedisClient(resolveRedisMetricsOptions({ enabled: true, url: redis.url }));
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    return client;
  }

  /** A process's channel whose flush counts its calls. */
  function listener(prefix: string, id: string) {
    const requests = new FlushRequests(moduleClient(), prefix, id);
    cleanups.push(() => requests.close());
    const flushes = { count: 0 };
    const listening = requests.listen(() => {
      flushes.count += 1;
      return Promise.resolve();
    });
    return { requests, flushes, listening };
  }

  /** Asks until `asked` processes got the request, or 10 s passed: the last outcome. */
  async function askUntil(requests: FlushRequests, asked: number): Promise<FlushRequestOutcome> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const outcome = await requests.request(2000);
      if (outcome.asked >= asked || Date.now() > deadline) return outcome;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('a process that started while Redis was away hears requests once Redis is back', async () => {
    await redis.stop();
    const early = listener('fresh-late-redis', 'early');
    // Its SUBSCRIBE waits for a connection that does not come, and fails.
    await expect(early.listening).rejects.toThrow();
    await redis.start();
    const asking = listener('fresh-late-redis', 'asking');
    await asking.listening;

    // Its connection comes back within a reconnection delay (2 s at most).
    await askUntil(asking.requests, 2);
    early.flushes.count = 0;

    const outcome = await asking.requests.request(5000);

    expect(outcome).toEqual({ asked: 2, answered: 2 });
    expect(early.flushes.count).toBe(1);
  });

  it('a request in flight stops waiting when its channel closes (a shutdown does not wait it out)', async () => {
    const asking = listener('fresh-close', 'asking');
    await asking.listening;
    // A process that is asked and never answers: its flush does not end.
    const silent = new FlushRequests(moduleClient(), 'fresh-close', 'silent');
    cleanups.push(() => silent.close());
    await silent.listen(() => new Promise(() => undefined));
    // Both listen once a request reaches two processes (the asking client connects on its own).
    await askUntil(asking.requests, 2);

    const request = asking.requests.request(60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    asking.requests.close();

    // Both got it; the asking process answered itself, the silent one never does.
    await expect(request).resolves.toEqual({ asked: 2, answered: 1 });
  });

  it("subscribes again after a reconnection though the user's client says autoResubscribe: false", async () => {
    const client = new Redis(redis.url, { autoResubscribe: false });
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    const requests = new FlushRequests(client, 'fresh-resubscribe', 'p');
    cleanups.push(() => requests.close());
    await requests.listen(() => Promise.resolve());
    expect((await askUntil(requests, 1)).asked).toBe(1);
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    const subscriber = (requests as unknown as { subscriber: RedisClient }).subscriber;
    const dropped = new Promise((resolve) => subscriber.once('close', resolve));

    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await dropped;
    // Connected again (within a reconnection delay): from then on a request is heard through the
    // subscriber, not counted for this process flushing itself while it reconnects.
    await new Promise((resolve) => subscriber.once('ready', resolve));

    expect((await askUntil(requests, 1)).asked).toBe(1);
  });

  it('does not count a pattern subscriber (PSUBSCRIBE *) as a process that will answer', async () => {
    const asking = listener('fresh-pattern', 'asking');
    await asking.listening;
    // redis-cli or a monitoring tool watching every channel: it gets each request and never answers.
    const monitor = new Redis(redis.url);
    cleanups.push(() => monitor.disconnect());
    await monitor.psubscribe('*');
    await askUntil(asking.requests, 1);

    const outcome = await asking.requests.request(3000);

    // PUBLISH alone said 2, and the request waited its whole bound for the monitor.
    expect(outcome).toEqual({ asked: 1, answered: 1 });
  });

  it('counts by PUBLISH when the ACL user may not run PUBSUB', async () => {
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    await admin.call(
      'ACL',
      'SETUSER',
      'no-pubsub',
      'on',
      '>secret',
      '~*',
      '&*',
      '+@all',
      '-pubsub',
    );
    const url = new URL(redis.url);
    url.username = 'no-pubsub';
    url.password = 'secret';
    const client = createRedisClient(
      resolveRedisMetricsOptions({ enabled: true, url: url.toString() }),
    );
    client.on('error', () => undefined);
    cleanups.push(() => client.disconnect());
    const probe = new Redis(url.toString());
    cleanups.push(() => probe.disconnect());
    await expect(probe.call('PUBSUB', 'NUMSUB', 'x')).rejects.toThrow(/NOPERM/);
    const requests = new FlushRequests(client, 'fresh-no-pubsub', 'p');
    cleanups.push(() => requests.close());
    await requests.listen(() => Promise.resolve());
    await askUntil(requests, 1);

    const outcome = await requests.request(3000);

    expect(outcome).toEqual({ asked: 1, answered: 1 });
  });

  it('a process whose subscriber is being reconnected flushes itself for its own request', async () => {
    const asking = listener('fresh-own-subscriber', 'asking');
    await asking.listening;
    const other = listener('fresh-own-subscriber', 'other');
    await other.listening;
    await askUntil(asking.requests, 2);
    asking.flushes.count = 0;
    other.flushes.count = 0;
    // The subscribers' connections dropped (a network blip, CLIENT KILL): until each is connected
    // again, it hears neither requests nor answers. (Private: nothing else shows the subscriber.)
    const subscriber = (asking.requests as unknown as { subscriber: RedisClient }).subscriber;
    const dropped = new Promise((resolve) => subscriber.once('close', resolve));
    const admin = new Redis(redis.url);
    cleanups.push(() => admin.disconnect());
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await dropped;

    const outcome = await asking.requests.request(300);

    // No subscriber got the request: the asking process flushed itself; the other one could not hear.
    expect(outcome).toEqual({ asked: 1, answered: 1 });
    expect(asking.flushes.count).toBe(1);
    expect(other.flushes.count).toBe(0);
  });
});
