import { readFileSync } from 'node:fs';

import { jest } from '@jest/globals';
import { Cluster, type ClusterOptions } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { RedisStorageManager } from '../../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-cluster.mjs';
import { uniquePrefix } from '../harness/test-redis.js';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';
import { sampleValue } from './exposition-sample.js';

// Redis Cluster with TLS, as managed services run it (cluster mode with encryption in transit): the
// nodes announce their TLS ports, and the module works through the ioredis Cluster client a user passes
// in, fresh scrapes (pub/sub on a duplicate of that client) included.

// Three servers and certificates: more than the default 30 s on a loaded machine.
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
    replicas: 0,
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

describe('Redis Cluster with TLS', () => {
  it('two processes count through TLS Cluster clients, and a fresh scrape of one shows both', async () => {
    const prefix = uniquePrefix('cluster-tls');
    const tls = { redisOptions: { tls: { ca: readFileSync(certificates.caFile) } } };
    const a = startProcess(prefix, tls);
    const b = startProcess(prefix, tls);
    expect([await a.manager.setup(), await b.manager.setup()]).toEqual([true, true]);

    a.counter.inc(3);
    b.counter.inc(4);
    const { status, body } = await a.manager.metrics();

    expect(status).toBe(200);
    expect(sampleValue(body, COUNTER)).toBe(7);
  });

  it('a Cluster client without TLS reaches no node, and the failed flush says so', async () => {
    const { manager, counter } = startProcess(uniquePrefix('cluster-plain'), {
      clusterRetryStrategy: () => null,
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
