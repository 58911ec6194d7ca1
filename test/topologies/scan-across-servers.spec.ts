import { jest } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { RedisMetricsStore, RedisMultiProcessCollector } from '../../src/index.js';
import { startRedisCluster } from '../harness/redis-cluster.mjs';
import { waitFor } from '../harness/redis-processes.mjs';
import { respCall } from '../harness/resp-call.mjs';
import { startAofRedis } from '../harness/aof-redis.js';
import { faultAfterFirstScan } from '../harness/scan-fault.js';
import { storeFlusher } from '../harness/test-flusher.js';

// A scrape reads the totals in several HSCAN calls once they hold more than 2,000 series. An HSCAN
// cursor means something only to the server process that returned it (its dict, its hash seed): the
// calls after a failover or a restart go to another process, and a cursor carried over skips part of
// the hash there. Nothing is lost in these faults, so a scrape must serve every series exactly.

const SERIES = 3000;

// Six servers, a cluster formed, a failover: more than the default 30 s on a loaded machine.
jest.setTimeout(90_000);

type Client = Redis | Cluster;
/** One process's flush of `SERIES` counter series, series `i` at `i + 1`. */
async function writeWideTotals(client: Client, prefix: string): Promise<void> {
  const registry = new Registry();
  const counter = new Counter({
    name: 'wide_total',
    help: 'Many series',
    labelNames: ['i'],
    registers: [registry],
  });
  for (let i = 0; i < SERIES; i += 1) counter.inc({ i: String(i) }, i + 1);
  const flusher = storeFlusher(new RedisMetricsStore(client, prefix), registry);
  const result = await flusher.flush();
  expect(result?.ok ? 'ok' : result?.error).toBe('ok');
  await flusher.stop();
}

/** The served value of every series of `wide_total`, by label value. */
function wideSeries(exposition: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const match of exposition.matchAll(/^wide_total\{i="(\d+)"\} (\S+)$/gm)) {
    values.set(match[1], Number(match[2]));
  }
  return values;
}

function expectEverySeries(exposition: string): void {
  const served = wideSeries(exposition);
  const missing = [...Array(SERIES).keys()].filter((i) => served.get(String(i)) !== i + 1);
  expect({ served: served.size, wrong: missing.length }).toEqual({ served: SERIES, wrong: 0 });
}

describe('a scrape whose HSCAN calls span two server processes serves every series exactly', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('Redis Cluster: a manual failover (nothing lost) of the master of the slot between two calls', async () => {
    const cluster = await startRedisCluster({ replicas: 1 });
    cleanups.push(() => cluster.stop());
    const options = { clusterRetryStrategy: () => 100, redisOptions: { connectTimeout: 2000 } };
    const writer = new Cluster(cluster.startupNodes, options);
    const reader = new Cluster(cluster.startupNodes, options);
    for (const client of [writer, reader]) {
      client.on('error', () => undefined);
      cleanups.push(() => client.disconnect());
    }
    await Promise.all(
      [writer, reader].map((client) =>
        waitFor('the cluster client', async () => client.status === 'ready'),
      ),
    );
    const prefix = 'scan-failover';
    await writeWideTotals(writer, prefix);
    const master = await cluster.masterOf(`{${prefix}}`);
    const [replica] = await cluster.replicasOf(master);
    await cluster.waitUntilReplicated(master);

    const failover = faultAfterFirstScan(reader, `{${prefix}}:totals`, async () => {
      // A graceful failover: the replica has every write before it takes over.
      await respCall({ port: replica.port }, 'CLUSTER', 'FAILOVER');
      await waitFor('the replica to serve the slot', async () => {
        const now = await cluster.masterOf(`{${prefix}}`);
        return now.id === replica.id;
      });
      await cluster.waitUntilHealthy();
    });
    const collector = new RedisMultiProcessCollector({ client: reader, keyPrefix: prefix });

    expectEverySeries(await collector.metrics());
    expect(failover.fired()).toBe(true);
  });

  it('a single Redis restarted from its AOF (nothing lost) between two calls', async () => {
    const server = await startAofRedis('scan-restart', cleanups);
    const options = { port: server.port, host: '127.0.0.1', retryStrategy: () => 100 };
    const writer = new Redis({ ...options, maxRetriesPerRequest: 1 });
    const reader = new Redis({ ...options, maxRetriesPerRequest: 5, commandTimeout: 5000 });
    for (const client of [writer, reader]) {
      client.on('error', () => undefined);
      cleanups.push(() => client.disconnect());
    }
    const prefix = 'scan-restart';
    await writeWideTotals(writer, prefix);

    const restart = faultAfterFirstScan(reader, `{${prefix}}:totals`, async () => {
      await server.kill();
      await server.restart();
    });
    const collector = new RedisMultiProcessCollector({ client: reader, keyPrefix: prefix });

    expectEverySeries(await collector.metrics());
    expect(restart.fired()).toBe(true);
  });
});
