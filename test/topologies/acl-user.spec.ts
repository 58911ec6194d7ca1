import 'reflect-metadata';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { jest } from '@jest/globals';
import {
  Controller,
  Module,
  Post,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cluster, Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';

import {
  ProcessIdentity,
  RedisMetricsModule,
  RedisMetricsService,
  RedisStorageDict,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { startRedisWithAuth, type AuthRedisServer } from '../harness/redis-auth-server.mjs';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-cluster.mjs';
import { startRedisSentinel, type RedisSentinelHandle } from '../harness/redis-sentinel.mjs';
import { respCall } from '../harness/resp-call.mjs';
import { uniquePrefix } from '../harness/test-redis.js';

// The least-privilege ACL rules the README gives, for the prefix `shop`: the test runs a real app as a
// user with exactly these, so a command the module starts to send fails here until the README says it.
const DOCUMENTED =
  'ACL SETUSER metrics on >password ~{shop}:* &{shop}:* +evalsha +eval +time +type +del +hset ' +
  '+hsetnx +hmget +hget +hdel +hgetall +hscan +zadd +zrem +zrange +zrangebyscore +zcount +zscore ' +
  '+subscribe +publish +pubsub|numsub +info';
// What the README adds on a Redis Cluster: ioredis's Cluster client reads the slots and the cluster's
// state (its ready check), and names its connection that reads the slots.
const DOCUMENTED_CLUSTER = 'ACL SETUSER metrics +cluster|slots +cluster|info +client|setname';

const root = new URL('../../', import.meta.url).pathname;

/** The `ACL SETUSER` lines of the README: every server's, then what a Cluster's nodes add. */
function readmeAclLines(): string[] {
  const lines = readFileSync(join(root, 'README.md'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('ACL SETUSER '));
  expect(lines).toHaveLength(2);
  return lines;
}

const ORDERS = 'acl_orders_total';
// More series than one HSCAN call reads (HSCAN_COUNT): a scrape then checks that the hash was not cut.
const BULK = 'acl_bulk_total';
const BULK_SERIES = 2500;

@Controller()
class OrdersController {
  private readonly orders: Counter<'shop'>;
  private readonly bulk: Counter<'n'>;
  constructor(metrics: RedisMetricsService) {
    this.orders = metrics.counter({ name: ORDERS, help: 'Orders placed', labelNames: ['shop'] });
    this.bulk = metrics.counter({ name: BULK, help: 'Many series', labelNames: ['n'] });
  }

  @Post('bulk')
  many(): string {
    for (let n = 0; n < BULK_SERIES; n += 1) this.bulk.inc({ n });
    return 'ok';
  }

  @Post('north')
  north(): string {
    this.orders.inc({ shop: 'north' });
    return 'ok';
  }

  @Post('south')
  south(): string {
    this.orders.inc({ shop: 'south' });
    return 'ok';
  }
}

jest.setTimeout(60_000);

/**
 * An app of the orders controller on `connection`, listening, its storage set up. No background flush
 * during the test: only a fresh scrape can show a new count.
 */
async function startOrdersApp(
  connection: Pick<RedisMetricsModuleOptions, 'url' | 'client' | 'keyPrefix'>,
  logger: LoggerService,
): Promise<INestApplication> {
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        ...connection,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 60_000,
        freshScrapeWaitMs: 5000,
      }),
    ],
    controllers: [OrdersController],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger });
  await app.listen(0, '127.0.0.1');
  expect(await app.get(RedisStorageManager).setup()).toBe(true);
  return app;
}

let server: AuthRedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedisWithAuth();
  admin = new Redis({ port: server.port, password: server.password });
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe('a Redis user with exactly the ACL rules the README gives', () => {
  it('is the line of the README, then its line for a Cluster', () => {
    expect(readmeAclLines()).toEqual([DOCUMENTED, DOCUMENTED_CLUSTER]);
  });

  it('flushes, scrapes fresh, answers health, deletes counts and ends processes, refused nothing', async () => {
    const keyPrefix = uniquePrefix('acl');
    const password = 'acl-user-pw';
    // The README's line for this prefix, user and password; its rules as they are written.
    const [, , , ...rules] = readmeAclLines()[0]
      .replaceAll('{shop}', `{${keyPrefix}}`)
      .replace('>password', `>${password}`)
      .split(' ');
    await admin.call('ACL', 'SETUSER', 'restricted', ...rules);
    await admin.call('ACL', 'LOG', 'RESET');

    const logged: string[] = [];
    const capture: LoggerService = {
      log: () => undefined,
      warn: (message: unknown) => void logged.push(`warn: ${String(message)}`),
      error: (message: unknown) => void logged.push(`error: ${String(message)}`),
    };
    // ioredis prints its own warnings (a refused ready check) with console.warn.
    const consoleWarn = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      logged.push(`console.warn: ${args.join(' ')}`);
    });
    const apps: INestApplication[] = [];
    try {
      // Two processes: a fresh scrape of one asks the other, over pub/sub, to flush first.
      for (let i = 0; i < 2; i += 1) {
        const url = `redis://restricted:${password}@127.0.0.1:${server.port}`;
        apps.push(await startOrdersApp({ url, keyPrefix }, capture));
      }
      const [first, second] = await Promise.all(apps.map((app) => app.getUrl()));

      // A process of another host, written as the admin, that the first app then ends as dead.
      const other = ProcessIdentity.create({ pid: 4242, hostname: 'gone-host' });
      const otherClient = new Redis({ port: server.port, password: server.password });
      await new RedisStorageDict(otherClient, { keyPrefix, identity: other }).set('x', 1);
      otherClient.disconnect();
      expect(
        await apps[0]
          .get(RedisStorageManager)
          .markProcessDead({ pid: 4242, hostname: 'gone-host' }),
      ).toEqual([other.id]);

      for (let i = 0; i < 3; i += 1) await fetch(`${second}/north`, { method: 'POST' });
      await fetch(`${second}/south`, { method: 'POST' });
      await fetch(`${second}/bulk`, { method: 'POST' });
      const scrape = await fetch(`${first}/metrics`);
      expect(scrape.status).toBe(200);
      const lines = (await scrape.text()).split('\n');
      expect(lines.filter((line) => line.includes(ORDERS))).toEqual([
        `# HELP ${ORDERS} Orders placed`,
        `# TYPE ${ORDERS} counter`,
        `${ORDERS}{shop="north"} 3`,
        `${ORDERS}{shop="south"} 1`,
      ]);
      const bulk = lines.filter((line) => line.startsWith(`${BULK}{`));
      expect(bulk).toHaveLength(BULK_SERIES);
      expect(bulk.filter((line) => line.endsWith('"} 1'))).toHaveLength(BULK_SERIES);

      const health = await fetch(`${first}/metrics/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'up', liveProcesses: 2 });

      const service = apps[0].get(RedisMetricsService);
      expect(await service.deleteCounts(ORDERS, { shop: 'south' })).toBe(1);
      expect(await service.deleteCounts(BULK)).toBe(BULK_SERIES);
      // The second app still holds its counts and would write them again: closed first.
      await apps.pop()!.close();
      expect(await (await fetch(`${first}/metrics`)).text()).toBe(
        `# HELP ${ORDERS} Orders placed\n# TYPE ${ORDERS} counter\n${ORDERS}{shop="north"} 3\n`,
      );
      await apps.pop()!.close();

      // Both ended at shutdown as the restricted user: no process indexed, their own keys gone.
      expect(await admin.zrange(`{${keyPrefix}}:processes`, '0', '-1')).toEqual([]);
      expect(await admin.keys(`{${keyPrefix}}:gauges:*`)).toEqual([]);
      expect(await admin.keys(`{${keyPrefix}}:counters:*`)).toEqual([]);
      // Nothing was refused, in a script or not (a refusal inside a script can go unreported).
      expect(await admin.call('ACL', 'LOG')).toEqual([]);
      expect(logged).toEqual([]);
    } finally {
      consoleWarn.mockRestore();
      await Promise.all(apps.map((app) => app.close()));
      await admin.call('ACL', 'DELUSER', 'restricted');
    }
  });
});

/**
 * Two apps, each on its own client as the restricted user (`connect`); the second counts, the first
 * scrapes. No background flush: the counts reach the scrape through a fresh scrape's request only.
 * Returns what was logged (Nest's and ioredis's warnings) and the scrape's lines of ORDERS.
 */
async function freshScrapeAsUser(
  keyPrefix: string,
  connect: () => Redis | Cluster,
): Promise<{ logged: string[]; lines: string[]; health: unknown }> {
  const logged: string[] = [];
  const capture: LoggerService = {
    log: () => undefined,
    warn: (message: unknown) => void logged.push(`warn: ${String(message)}`),
    error: (message: unknown) => void logged.push(`error: ${String(message)}`),
  };
  const consoleWarn = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    logged.push(`console.warn: ${args.join(' ')}`);
  });
  const apps: INestApplication[] = [];
  const clients: (Redis | Cluster)[] = [];
  try {
    for (let i = 0; i < 2; i += 1) {
      const client = connect();
      clients.push(client);
      apps.push(await startOrdersApp({ client, keyPrefix }, capture));
    }
    const [first, second] = await Promise.all(apps.map((app) => app.getUrl()));
    for (let i = 0; i < 3; i += 1) await fetch(`${second}/north`, { method: 'POST' });
    await fetch(`${second}/south`, { method: 'POST' });
    const scrape = await fetch(`${first}/metrics`);
    expect(scrape.status).toBe(200);
    const lines = (await scrape.text()).split('\n').filter((line) => line.includes(ORDERS));
    const health = await (await fetch(`${first}/metrics/health`)).json();
    // Both end as the restricted user too (their keys and index entries are deleted at shutdown).
    await Promise.all(apps.splice(0).map((app) => app.close()));
    return { logged, lines, health };
  } finally {
    consoleWarn.mockRestore();
    await Promise.all(apps.map((app) => app.close()));
    for (const client of clients) client.disconnect();
  }
}

/** Creates the user `restricted` with the README's rules (and `more`) on the server at `port`. */
async function createUser(port: number, keyPrefix: string, password: string, more: string[]) {
  const [, , , ...rules] = readmeAclLines()[0]
    .replaceAll('{shop}', `{${keyPrefix}}`)
    .replace('>password', `>${password}`)
    .split(' ');
  await respCall({ port }, 'ACL', 'SETUSER', 'restricted', ...rules, ...more);
  await respCall({ port }, 'ACL', 'LOG', 'RESET');
}

const EXACT_ORDERS = [
  `# HELP ${ORDERS} Orders placed`,
  `# TYPE ${ORDERS} counter`,
  `${ORDERS}{shop="north"} 3`,
  `${ORDERS}{shop="south"} 1`,
];

describe("the same user on every node of a Redis Cluster, with the README's Cluster rules", () => {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 0 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('flushes and scrapes fresh exact counts through Cluster clients, refused nothing', async () => {
    const keyPrefix = uniquePrefix('acl-cluster');
    const password = 'acl-cluster-pw';
    // The README's second line adds to the user its rules for a Cluster, as they are written.
    const [, , , ...clusterRules] = readmeAclLines()[1].split(' ');
    // ACL users are not shared between the nodes of a cluster: each node gets its own.
    for (const node of cluster.nodes)
      await createUser(node.port, keyPrefix, password, clusterRules);

    const result = await freshScrapeAsUser(
      keyPrefix,
      () =>
        new Cluster(cluster.startupNodes, { redisOptions: { username: 'restricted', password } }),
    );
    expect(result.lines).toEqual(EXACT_ORDERS);
    expect(result.health).toMatchObject({ status: 'up', liveProcesses: 2 });
    expect(result.logged).toEqual([]);
    const keys: string[] = [];
    for (const node of cluster.nodes) {
      expect(await respCall({ port: node.port }, 'ACL', 'LOG')).toEqual([]);
      keys.push(...((await respCall({ port: node.port }, 'KEYS', `{${keyPrefix}}:*`)) as string[]));
    }
    // Both processes ended as the user: no process indexed, none of their own keys left.
    expect(keys.sort()).toEqual(
      ['ended', 'ended-seq', 'metadata', 'totals'].map((key) => `{${keyPrefix}}:${key}`),
    );
  });
});

describe("the same user on both data servers behind Sentinel, with the README's line only", () => {
  let sentinel: RedisSentinelHandle;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  });
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('flushes and scrapes fresh exact counts through a Sentinel client, refused nothing', async () => {
    const keyPrefix = uniquePrefix('acl-sentinel');
    const password = 'acl-sentinel-pw';
    // ACL users are not replicated: the replica, which a failover makes master, gets its own.
    for (const server of sentinel.servers) await createUser(server.port, keyPrefix, password, []);

    const result = await freshScrapeAsUser(
      keyPrefix,
      () =>
        new Redis({
          sentinels: sentinel.sentinels,
          name: sentinel.masterName,
          username: 'restricted',
          password,
        }),
    );
    expect(result.lines).toEqual(EXACT_ORDERS);
    expect(result.health).toMatchObject({ status: 'up', liveProcesses: 2 });
    expect(result.logged).toEqual([]);
    for (const server of sentinel.servers) {
      expect(await respCall({ port: server.port }, 'ACL', 'LOG')).toEqual([]);
    }
  });
});
