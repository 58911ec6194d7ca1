import { readFileSync } from 'node:fs';

import { jest } from '@jest/globals';
import { Cluster, type ClusterOptions } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { RedisStorageManager, type FlushResult } from '../../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-cluster.mjs';
import { waitFor } from '../harness/redis-processes.mjs';
import { uniquePrefix } from '../harness/test-redis.js';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';
import { sampleValue } from './exposition-sample.js';

// Redis Cluster with TLS, as managed services run it (cluster mode with encryption in transit, a
// replica per master): the nodes announce their TLS ports and replicate over TLS, and the module works
// through the ioredis Cluster client a user passes in, fresh scrapes (pub/sub on a duplicate of that
// client) and a failover included.

// Six servers, certificates and a failover: more than the default 30 s on a loaded machine.
jest.setTimeout(120_000);

const QUIET = { log: () => undefined, warn: () => undefined, error: () => undefined };
const COUNTER = 'tls_cluster_writes_total';

let certificates: TestCertificates;
let cluster: RedisClusterHandle;
const clients: Cluster[] = [];
const managers: RedisStorageManager[] = [];

beforeAll(async () => {
  certificates = await makeTestCertificates();
  cluster = await startRedisCluster({
    replicas: 1,
    tls: {
      certFile: certificates.serverCertFile,
      keyFile: certificates.serverKeyFile,
      caFile: certificates.caFile,
    },
  });
});
afterAll(async () => {
  for (const manager of managers) await manager.teardown();
  for (const client of clients) client.disconnect();
  await cluster?.stop();
  await certificates?.remove();
});

/** One process of the app: its own Cluster client to the TLS addresses and its own counter. */
function startProcess(prefix: string, options: ClusterOptions) {
  const client = new Cluster(cluster.tlsStartupNodes!, options);
  clients.push(client);
  const registry = new Registry();
  const counter = new Counter({ name: COUNTER, help: 'Writes', registers: [registry] });
  const manager = new RedisStorageManager(
    {
      client,
      keyPrefix: prefix,
      registry,
      defaultMetrics: false,
      httpMetrics: false,
      // Only fresh scrapes write during the test: a count is in a scrape because it asked for it.
      flushIntervalMs: 60_000,
      freshScrapeWaitMs: 5_000,
    },
    QUIET,
  );
  managers.push(manager);
  return { manager, counter };
}

/** Flushes until a flush reaches the cluster again (the client finds the new master of the slot). */
function flushUntilOk(manager: RedisStorageManager): Promise<FlushResult> {
  return waitFor('a flush to reach the cluster', async () => {
    const result = await manager.flush();
    return result?.ok ? result : undefined;
  });
}

describe('Redis Cluster with TLS', () => {
  const tlsOptions = (): ClusterOptions => ({
    redisOptions: { tls: { ca: readFileSync(certificates.caFile) } },
    clusterRetryStrategy: () => 100,
  });

  it('two processes count through TLS Cluster clients, and a fresh scrape of one shows both', async () => {
    const prefix = uniquePrefix('cluster-tls');
    const tls = tlsOptions();
    const a = startProcess(prefix, tls);
    const b = startProcess(prefix, tls);
    expect([await a.manager.setup(), await b.manager.setup()]).toEqual([true, true]);
    // On a Cluster a scrape waits for the processes its last write counted live: both, from here.
    expect((await a.manager.flush())?.ok).toBe(true);

    a.counter.inc(3);
    b.counter.inc(4);
    const { status, body } = await a.manager.metrics();

    expect(status).toBe(200);
    expect(sampleValue(body, COUNTER)).toBe(7);
  });

  it('keeps exact counts through the failover of the master of its slot over TLS, and the killed master rejoins as a replica', async () => {
    const prefix = uniquePrefix('cluster-tls-failover');
    const { manager, counter } = startProcess(prefix, tlsOptions());
    expect(await manager.setup()).toBe(true);
    counter.inc(5);
    expect((await manager.flush())?.ok).toBe(true);

    const { killed, replica, promoted } = await cluster.failOverMasterOf(`{${prefix}}`);
    expect(promoted.id).toBe(replica.id);

    counter.inc(2);
    await flushUntilOk(manager);
    expect(sampleValue((await manager.metrics()).body, COUNTER)).toBe(7);

    await cluster.restartNode(killed);
    expect((await cluster.replicasOf(promoted)).map((node) => node.id)).toEqual([killed.id]);
    counter.inc();
    await flushUntilOk(manager);
    expect(sampleValue((await manager.metrics()).body, COUNTER)).toBe(8);
  });

  it('a Cluster client without TLS: a scrape answers 503 at once and names why, not after its timeout', async () => {
    // ioredis keeps the commands of a Cluster that is not ready in its offline queue: the fresh-scrape
    // request and the read waited there the whole scrapeTimeoutMs, and the 503 said "no answer".
    const prefix = uniquePrefix('cluster-plain-scrape');
    const { manager } = startProcess(prefix, { redisOptions: { disconnectTimeout: 50 } });
    expect(await manager.setup()).toBe(false);

    const started = performance.now();
    const scrape = await manager.metrics();
    const tookMs = performance.now() - started;

    expect(scrape.status).toBe(503);
    expect(scrape.body).toBe(
      `the metrics of every process could not be read from Redis under prefix "${prefix}": Redis Cluster: no node answered to tell which master serves which slot (check the addresses given to the Cluster client; nodes that speak TLS need its redisOptions.tls)\n`,
    );
    expect(tookMs).toBeLessThan(1000);
  });

  it('a Cluster client without TLS reaches no node, and the failed flush says so', async () => {
    const { manager, counter } = startProcess(uniquePrefix('cluster-plain'), {
      clusterRetryStrategy: () => null,
      // The servers close each plaintext connection; ioredis then drops each one with its 2 s
      // disconnectTimeout armed on a socket already closed, which outlived this file (README,
      // Redis Cluster).
      redisOptions: { disconnectTimeout: 50 },
    });

    expect(await manager.setup()).toBe(false);
    counter.inc();
    const flushed = await manager.flush();

    expect(flushed?.ok).toBe(false);
    expect(flushed?.error?.message).toBe(
      'Redis Cluster: no node answered to tell which master serves which slot (check the addresses given to the Cluster client; nodes that speak TLS need its redisOptions.tls)',
    );
  });
});
