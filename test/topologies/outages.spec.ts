import { jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';

import { startPrivateRedis } from '../harness/aof-redis.js';
import { startRedisProcess, waitFor } from '../harness/redis-processes.mjs';
import { decreases, startAppFleet, type AppFleet } from '../harness/app-fleet.js';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-cluster.mjs';
import { startRedisSentinel } from '../harness/redis-sentinel.mjs';

type RedisProcess = Awaited<ReturnType<typeof startRedisProcess>>;

const FLUSH_MS = 200;
// Servers started, faults, recoveries and settling under load: more than the default 30 s on a
// loaded machine.
jest.setTimeout(120_000);

/**
 * Three apps under load while a fault happens, then what every outage test asserts: every request
 * answered is counted exactly once in the end, no scrape answered 200 with less than an earlier one
 * (so `increase()` over the scrapes is the true increase), and scrapes that could not be answered
 * right answered 503.
 */
async function underLoad(fleet: AppFleet, fault: () => Promise<void>) {
  fleet.start(50, 100);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await fault();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await fleet.pause();
  const settled = await waitFor(
    'the merged count to equal the requests answered',
    async () => {
      const sample = await fleet.scrape();
      return sample.orders === fleet.sent() ? sample : false;
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  return {
    final: settled.orders,
    sent: fleet.sent(),
    decreases: decreases(fleet.scrapes),
    statuses: [...new Set(fleet.scrapes.map((s) => s.status))].sort(),
  };
}

describe('outages of a single Redis under load: exact counts, no scrape lower than an earlier one', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function startServer(label: string, persistence: string[]): Promise<RedisProcess> {
    return startPrivateRedis(label, cleanups, persistence);
  }

  async function fleetOn(server: RedisProcess, prefix: string): Promise<AppFleet> {
    const fleet = await startAppFleet(3, () => ({
      url: `redis://127.0.0.1:${server.port}`,
      keyPrefix: prefix,
      flushIntervalMs: FLUSH_MS,
      livenessWindowMs: 1000,
    }));
    cleanups.push(() => fleet.close());
    return fleet;
  }

  it.each([
    ['persistence off', ['--appendonly', 'no']],
    ['AOF (fsync every second)', ['--appendonly', 'yes', '--appendfsync', 'everysec']],
  ])('Redis killed and restarted, %s', async (_, persistence) => {
    const server = await startServer('outage', persistence);
    const fleet = await fleetOn(server, 'outage');

    const result = await underLoad(fleet, async () => {
      await server.kill();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await server.restart();
    });

    expect(result.final).toBe(result.sent);
    expect(result.decreases).toEqual([]);
    expect(result.statuses).toEqual([200, 503]);
  });

  it('Redis stalled (CLIENT PAUSE 1500): nothing lost, no scrape lower than an earlier one', async () => {
    const server = await startServer('pause', ['--appendonly', 'no']);
    const fleet = await fleetOn(server, 'pause');
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    cleanups.push(() => admin.disconnect());

    const result = await underLoad(fleet, async () => {
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
      await new Promise((resolve) => setTimeout(resolve, 1600));
    });

    expect(result.final).toBe(result.sent);
    expect(result.decreases).toEqual([]);
  });
});

describe('topologies under load: exact counts, no scrape lower than an earlier one', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function clusterFleet(cluster: RedisClusterHandle, prefix: string): Promise<AppFleet> {
    const clients = [0, 1, 2].map(
      () => new Cluster(cluster.startupNodes, { clusterRetryStrategy: () => 100 }),
    );
    for (const client of clients) client.on('error', () => undefined);
    cleanups.push(() => clients.forEach((client) => client.disconnect()));
    const fleet = await startAppFleet(3, (i) => ({
      client: clients[i],
      keyPrefix: prefix,
      flushIntervalMs: FLUSH_MS,
      livenessWindowMs: 1000,
    }));
    cleanups.push(() => fleet.close());
    return fleet;
  }

  it('Redis Cluster with replicas: the master of the slot is killed and a replica takes over', async () => {
    const cluster = await startRedisCluster({ replicas: 1 });
    cleanups.push(() => cluster.stop());
    const fleet = await clusterFleet(cluster, 'cluster-failover');
    const master = await cluster.masterOf('{cluster-failover}:totals');

    const result = await underLoad(fleet, async () => {
      await cluster.killNode(master);
      await cluster.waitForFailover(master);
    });

    expect(result.final).toBe(result.sent);
    expect(result.decreases).toEqual([]);
  });

  it('Redis Cluster without replicas: the master of the slot is killed and restarted empty', async () => {
    const cluster = await startRedisCluster({ replicas: 0 });
    cleanups.push(() => cluster.stop());
    const fleet = await clusterFleet(cluster, 'cluster-loss');
    const master = await cluster.masterOf('{cluster-loss}:totals');

    const result = await underLoad(fleet, async () => {
      await cluster.killNode(master);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await cluster.restartNode(master);
    });

    expect(result.final).toBe(result.sent);
    expect(result.decreases).toEqual([]);
    expect(result.statuses).toEqual([200, 503]);
  });

  it("Sentinel: a failover to the replica, the module's own client following it", async () => {
    const sentinel = await startRedisSentinel();
    cleanups.push(() => sentinel.stop());
    const fleet = await startAppFleet(3, () => ({
      sentinels: sentinel.sentinels,
      sentinelMaster: sentinel.masterName,
      keyPrefix: 'sentinel-failover',
      flushIntervalMs: FLUSH_MS,
      livenessWindowMs: 1000,
    }));
    cleanups.push(() => fleet.close());

    const result = await underLoad(fleet, async () => {
      await sentinel.failover();
    });

    expect(result.final).toBe(result.sent);
    expect(result.decreases).toEqual([]);
  });
});
