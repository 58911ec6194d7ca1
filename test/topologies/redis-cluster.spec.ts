import 'reflect-metadata';

import { inspect } from 'node:util';

import { jest } from '@jest/globals';

import { Controller, Injectable, Module, Post, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cluster } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';
import request from 'supertest';

import {
  describeRedisError,
  MARKER,
  ProcessIdentity,
  RedisMetricsModule,
  RedisMetricsService,
  RedisMetricsStore,
  RedisStorageManager,
  seriesField,
  type FlushResult,
} from '../../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../harness/redis-cluster.mjs';
import { waitFor } from '../harness/redis-processes.mjs';
import { parseInfo, respCall } from '../harness/resp-call.mjs';
import { uniquePrefix } from '../harness/test-redis.js';
import { sampleValue } from './exposition-sample.js';

// The module on a real Redis Cluster, through the ioredis Cluster client a user passes in: every key of
// a prefix shares one hash tag, so the scripts run on the master of that slot.

@Injectable()
class OrdersService {
  readonly placed: Counter<string>;
  constructor(metrics: RedisMetricsService) {
    this.placed = metrics.counter({ name: 'orders_placed_total', help: 'Orders placed' });
  }
}

@Controller()
class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post('orders')
  place(): string {
    this.orders.placed.inc();
    return 'ok';
  }
}

async function startApp(client: Cluster, prefix: string): Promise<INestApplication> {
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        client,
        keyPrefix: prefix,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 200,
      }),
    ],
    controllers: [OrdersController],
    providers: [OrdersService],
  })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

async function placeOrders(app: INestApplication, count: number) {
  for (let i = 0; i < count; i += 1) await request(app.getHttpServer()).post('/orders').expect(201);
}

async function scrapedOrders(app: INestApplication): Promise<number | undefined> {
  const response = await request(app.getHttpServer()).get('/metrics').expect(200);
  return sampleValue(response.text, 'orders_placed_total');
}

/** The merged order count once a scrape answers 200 (it answers 503 while Redis is written again). */
function mergedOrdersOnceServed(app: INestApplication, what: string): Promise<number | undefined> {
  return waitFor(what, async () => {
    const response = await request(app.getHttpServer()).get('/metrics');
    return response.status === 200 ? sampleValue(response.text, 'orders_placed_total') : undefined;
  });
}

/** Flushes until a flush reaches Redis again (the Cluster client finds the new slot owner). */
async function flushUntilOk(app: INestApplication): Promise<FlushResult> {
  const manager = app.get(RedisStorageManager);
  return waitFor('a flush to reach the cluster', async () => {
    const result = await manager.flush();
    return result?.ok ? result : undefined;
  });
}

function clusterClient(cluster: RedisClusterHandle): Cluster {
  return new Cluster(cluster.startupNodes, { clusterRetryStrategy: () => 100 });
}

// Six servers, a cluster formed, a failover: more than the default 30 s on a loaded machine.
jest.setTimeout(120_000);

describe('Redis Cluster, 3 masters with a replica each', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;
  let app: INestApplication;
  const prefix = uniquePrefix('cluster');

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = clusterClient(cluster);
    app = await startApp(client, prefix);
  });
  afterAll(async () => {
    await app?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  it('the harness starts 3 masters, each with one replica in sync, and every node says ok', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    expect(cluster.nodes).toHaveLength(6);
    for (const master of masters) {
      const replicas = await cluster.replicasOf(master);
      expect(replicas).toHaveLength(1);
      const info = parseInfo(await respCall({ port: replicas[0].port }, 'INFO', 'replication'));
      expect(info).toMatchObject({ master_port: String(master.port), master_link_status: 'up' });
    }
    for (const node of cluster.nodes) {
      const info = parseInfo(await respCall({ port: node.port }, 'CLUSTER', 'INFO'));
      expect(info).toMatchObject({
        cluster_state: 'ok',
        cluster_slots_ok: '16384',
        cluster_known_nodes: '6',
      });
    }
  });

  it('RedisMetricsModule.forRoot({ client: cluster }) flushes and scrapes exact counts', async () => {
    await placeOrders(app, 7);
    expect((await app.get(RedisStorageManager).flush())?.ok).toBe(true);
    expect(await scrapedOrders(app)).toBe(7);
    const health = await request(app.getHttpServer()).get('/metrics/health').expect(200);
    expect(health.body).toMatchObject({ status: 'up', liveProcesses: 1 });
  });

  /**
   * A process of its own Cluster client writing `registry` under `keyPrefix`, whose writes after its
   * first are fresh scrapes' only: a count is in a scrape because the scrape asked for it.
   */
  function freshScrapeProcess(keyPrefix: string, registry: Registry) {
    const processClient = clusterClient(cluster);
    const manager = new RedisStorageManager(
      {
        client: processClient,
        keyPrefix,
        registry,
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 60_000,
        freshScrapeWaitMs: 5_000,
      },
      { log: () => undefined, warn: () => undefined, error: () => undefined },
    );
    return { processClient, manager };
  }

  it('a fresh scrape waits for every live process, though PUBLISH counts the subscribers of one node only', async () => {
    const freshPrefix = uniquePrefix('cluster-fresh');
    const processes = [0, 1].map(() => {
      const registry = new Registry();
      const counter = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
      return { counter, ...freshScrapeProcess(freshPrefix, registry) };
    });
    try {
      for (const { manager } of processes) expect(await manager.setup()).toBe(true);
      const [scraper, other] = processes;
      // Its last write counted both processes live.
      expect((await scraper.manager.flush())?.ok).toBe(true);

      const scraped: (number | undefined)[] = [];
      for (let round = 1; round <= 8; round += 1) {
        scraper.counter.inc();
        other.counter.inc();
        scraped.push(sampleValue((await scraper.manager.metrics()).body, 'jobs_total'));
      }

      // Six nodes: most requests reach the PUBLISH node's subscribers of neither process, or of one.
      expect(scraped).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
    } finally {
      for (const { manager, processClient } of processes) {
        await manager.teardown();
        processClient.disconnect();
      }
    }
  });

  it('a fresh scrape waits for a process that started after the scraping process last wrote', async () => {
    const started: { manager: RedisStorageManager; processClient: Cluster }[] = [];
    const start = async (keyPrefix: string) => {
      const registry = new Registry();
      const items = new Counter({
        name: 'items_total',
        help: 'Items',
        labelNames: ['item'],
        registers: [registry],
      });
      // Registered after the items: written in the last of a flush's batches.
      const joined = new Counter({ name: 'joined_total', help: 'Joined', registers: [registry] });
      // The scraping process last wrote at its start, which counted it alone live.
      const { manager, processClient } = freshScrapeProcess(keyPrefix, registry);
      started.push({ manager, processClient });
      expect(await manager.setup()).toBe(true);
      return { manager, joined, items };
    };
    try {
      const scraped: (number | undefined)[] = [];
      // A new prefix each time: the scrape reads two processes' series only, in one call or a few.
      for (let round = 1; round <= 4; round += 1) {
        const keyPrefix = uniquePrefix('cluster-join');
        const scraper = await start(keyPrefix);
        const joiner = await start(keyPrefix);
        joiner.joined.inc();
        // Its answer comes after the scraping process's own (it has 20,000 series to write, that
        // one none): a scrape that waits only for the processes its last write counted live reads
        // before it.
        for (let item = 0; item < 20_000; item += 1) joiner.items.inc({ item: String(item) });
        scraped.push(sampleValue((await scraper.manager.metrics()).body, 'joined_total'));
      }

      expect(scraped).toEqual([1, 1, 1, 1]);
    } finally {
      for (const { manager, processClient } of started) {
        await manager.teardown();
        processClient.disconnect();
      }
    }
  });

  it('keeps exact counts through the failover of the master of its slot, and the killed master rejoins as a replica', async () => {
    const { killed, replica, promoted } = await cluster.failOverMasterOf(`{${prefix}}`);
    expect(promoted.id).toBe(replica.id);

    await placeOrders(app, 4);
    await flushUntilOk(app);
    expect(await scrapedOrders(app)).toBe(11);

    await cluster.restartNode(killed);
    expect((await cluster.replicasOf(promoted)).map((node) => node.id)).toEqual([killed.id]);
    await placeOrders(app, 1);
    await flushUntilOk(app);
    expect(await scrapedOrders(app)).toBe(12);
  });
});

describe('Redis Cluster, 3 masters without replicas', () => {
  let cluster: RedisClusterHandle;
  let client: Cluster;
  let app: INestApplication;
  const prefix = uniquePrefix('cluster-bare');

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 0 });
    client = clusterClient(cluster);
    app = await startApp(client, prefix);
  });
  afterAll(async () => {
    await app?.close();
    client?.disconnect();
    await cluster?.stop();
  });

  it('the harness starts 3 masters without replicas', async () => {
    expect(cluster.nodes).toHaveLength(3);
    const masters = await cluster.masters();
    expect(masters.map((node) => node.id).sort()).toEqual(
      cluster.nodes.map((node) => node.id).sort(),
    );
    for (const master of masters) expect(await cluster.replicasOf(master)).toEqual([]);
  });

  it('loses the master of its slot: flushes fail while it is down, and after its restart (empty) the counts are exact again', async () => {
    await placeOrders(app, 5);
    expect((await app.get(RedisStorageManager).flush())?.ok).toBe(true);
    expect(await scrapedOrders(app)).toBe(5);

    const master = await cluster.masterOf(`{${prefix}}`);
    await cluster.killNode(master);
    await placeOrders(app, 2);
    const failed = await app.get(RedisStorageManager).flush();
    expect(failed?.ok).toBe(false);
    await request(app.getHttpServer()).get('/metrics/health').expect(503);
    // Depending on whether the other masters have marked it failed yet, Redis answers CLUSTERDOWN,
    // or the client keeps being redirected to the dead master, or finds its connection closed.
    expect([
      'CLUSTERDOWN: the Redis Cluster is down (a failed master whose replica is being promoted, which takes about cluster-node-timeout; or a master without a replica unreachable)',
      `Redis Cluster: the master at 127.0.0.1:${master.port} does not answer for this prefix's slot (is it down? the cluster has not failed it over yet)`,
      "Redis Cluster: the master of this prefix's slot does not answer (is it down? the cluster has not failed it over yet)",
    ]).toContain(describeRedisError(failed?.error, client));

    await cluster.restartNode(master);
    await placeOrders(app, 1);
    await flushUntilOk(app);
    // The master came back empty: scrapes answer 503 while the live processes write their counts
    // again (for two flush intervals and 2 s from the repair), then the exact total.
    const during = await request(app.getHttpServer()).get('/metrics').expect(503);
    expect(during.text).toMatch(
      /lost data (.* ago|just now); live processes are writing their counts again/,
    );
    const total = await mergedOrdersOnceServed(app, 'a merged scrape again');
    expect(total).toBe(8);
  });

  it("a migration of the prefix's slot left half-way: flushes say so, not that a master is down, and counts stay exact", async () => {
    const manager = app.get(RedisStorageManager);
    await flushUntilOk(app);
    const before = await mergedOrdersOnceServed(app, 'a merged scrape');
    const source = await cluster.masterOf(`{${prefix}}`);
    const target = (await cluster.masters()).find((node) => node.id !== source.id)!;
    const slot = Number(await respCall({ port: source.port }, 'CLUSTER', 'KEYSLOT', `{${prefix}}`));
    await respCall({ port: target.port }, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
    await respCall({ port: source.port }, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
    const migrate = async (count: number) => {
      const keys = (await respCall(
        { port: source.port },
        ...['CLUSTER', 'GETKEYSINSLOT', slot, count],
      )) as string[];
      if (keys.length === 0) return 0;
      await respCall(
        { port: source.port },
        ...['MIGRATE', '127.0.0.1', target.port, '', 0, 5000, 'KEYS', ...keys],
      );
      return keys.length;
    };
    // One key moved, the rest not: every script of the prefix is redirected back and forth (ASK to
    // the importing node, TRYAGAIN there, MOVED from the others) until the client gives up.
    expect(await migrate(1)).toBe(1);
    await placeOrders(app, 3);
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const failed = await manager.flush();
      expect(failed?.ok).toBe(false);
      expect(describeRedisError(failed?.error, client)).toBe(
        "Redis Cluster: this prefix's slot is being migrated to another node, and its keys are split between the two (the nodes answer ASK, TRYAGAIN or MOVED); writes and scrapes resume when the migration ends (one left half-way: redis-cli --cluster fix)",
      );
    }

    while ((await migrate(100)) > 0);
    for (const node of await cluster.masters()) {
      await respCall({ port: node.port }, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
    }
    await flushUntilOk(app);
    const after = await mergedOrdersOnceServed(app, 'a merged scrape after the migration');
    expect(after).toBe(before! + 3);
  });
  it("a migration of the prefix's slot that moved the read head's keys but not a process's gauges: scrapes answer 503, never 200 without those gauges", async () => {
    const migratedPrefix = uniquePrefix('cluster-gauges');
    const registry = new Registry();
    const gauge = new Gauge({
      name: 'queue_depth',
      help: 'Depth',
      labelNames: ['queue'],
      registers: [registry],
    });
    // More series than one HSCAN call reads: the scrape checks afterwards that the hash was whole.
    for (let queue = 0; queue < 3000; queue += 1) gauge.set({ queue: String(queue) }, 1);
    const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
    const started = [registry, new Registry()].map((processRegistry) => {
      const processClient = clusterClient(cluster);
      const manager = new RedisStorageManager(
        {
          client: processClient,
          keyPrefix: migratedPrefix,
          registry: processRegistry,
          defaultMetrics: false,
          httpMetrics: false,
          flushIntervalMs: 60_000,
          freshScrapeWaitMs: 0,
        },
        quiet,
      );
      return { manager, processClient };
    });
    const [, scraper] = started;
    const gaugeLines = (body: string) =>
      body.split('\n').filter((line) => line.startsWith('queue_depth{'));
    try {
      for (const { manager } of started) expect(await manager.setup()).toBe(true);
      expect(gaugeLines((await scraper.manager.metrics()).body)).toHaveLength(3000);

      const migration = await cluster.startSlotMigration(`{${migratedPrefix}}`);
      const keys = new RedisMetricsStore(scraper.processClient, migratedPrefix).keys;
      // The read head runs on the target now; the gauges hashes are still on the source.
      await migration.move([keys.processes, keys.processInfo, keys.metadata, keys.totals]);
      const during = [];
      for (let scrape = 0; scrape < 3; scrape += 1) {
        const response = await scraper.manager.metrics();
        during.push([
          response.status,
          response.status === 200 ? gaugeLines(response.body).length : response.body,
        ]);
      }

      await migration.finish();
      const after = await scraper.manager.metrics();

      // A pipeline of single-key checks was redirected whole to the target, which held no gauges
      // hash yet: 200 without the 3,000 gauges.
      const reason = `the metrics of every process could not be read from Redis under prefix "${migratedPrefix}": Redis Cluster: this prefix's slot is being migrated to another node, and its keys are split between the two (the nodes answer ASK, TRYAGAIN or MOVED); writes and scrapes resume when the migration ends (one left half-way: redis-cli --cluster fix)\n`;
      expect(during).toEqual([
        [503, reason],
        [503, reason],
        [503, reason],
      ]);
      expect(after.status).toBe(200);
      expect(gaugeLines(after.body)).toHaveLength(3000);
    } finally {
      for (const { manager, processClient } of started) {
        await manager.teardown();
        processClient.disconnect();
      }
    }
  });
  /**
   * A manager counting 5 jobs under its own prefix on a Cluster client of its own, flushing only when
   * asked (and at its stop), with the warnings it logs.
   */
  function jobsManager(prefix: string) {
    const registry = new Registry();
    const jobs = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
    jobs.inc(5);
    const processClient = clusterClient(cluster);
    const warned: string[] = [];
    const manager = new RedisStorageManager(
      {
        client: processClient,
        keyPrefix: prefix,
        registry,
        defaultMetrics: false,
        httpMetrics: false,
        flushIntervalMs: 60_000,
        freshScrapeWaitMs: 0,
      },
      {
        log: () => undefined,
        warn: (message: string) => warned.push(message),
        error: () => undefined,
      },
    );
    return { jobs, processClient, warned, manager };
  }

  it("a scrape while the prefix's slot is split by a migration names the migration, not ioredis' redirections", async () => {
    const splitPrefix = uniquePrefix('cluster-split');
    const { processClient, warned, manager } = jobsManager(splitPrefix);
    try {
      expect(await manager.setup()).toBe(true);
      const migration = await cluster.startSlotMigration(`{${splitPrefix}}`);
      const keys = new RedisMetricsStore(processClient, splitPrefix).keys;
      // The read head's keys are split: Redis answers its script TRYAGAIN until ioredis gives up.
      await migration.move([keys.processes]);
      const during = await manager.metrics();
      // The process index is read in a pipeline, which ioredis does not redirect: Redis's bare ASK.
      const marking = await manager.markProcessDead({ pid: 1 }).catch((error: Error) => error);
      await migration.finish();
      const after = await manager.metrics();

      const reason = `the metrics of every process could not be read from Redis under prefix "${splitPrefix}": Redis Cluster: this prefix's slot is being migrated to another node, and its keys are split between the two (the nodes answer ASK, TRYAGAIN or MOVED); writes and scrapes resume when the migration ends (one left half-way: redis-cli --cluster fix)`;
      // It was "Too many Cluster redirections. Last error: ReplyError: TRYAGAIN Multiple keys request
      // during rehashing of slot".
      expect([during.status, during.body]).toEqual([503, `${reason}\n`]);
      expect(warned).toEqual([`Scrapes answer 503 while ${reason}`]);
      expect((marking as Error).message).toBe(reason.replace(/^.*?: /, ''));
      expect(after.status).toBe(200);
      expect(sampleValue(after.body, 'jobs_total')).toBe(5);
    } finally {
      await manager.teardown();
      processClient.disconnect();
    }
  });
  it("a shutdown while the prefix's slot is split tries its last flush again until the migration ends: nothing counted is lost", async () => {
    const prefix = uniquePrefix('cluster-split-stop');
    const { jobs, processClient, warned, manager } = jobsManager(prefix);
    try {
      expect(await manager.setup()).toBe(true);
      jobs.inc(3);
      const migration = await cluster.startSlotMigration(`{${prefix}}`);
      const keys = new RedisMetricsStore(processClient, prefix).keys;
      await migration.move([keys.processes]);
      const stopping = manager.teardown();
      // Longer than ioredis' own TRYAGAIN retries (16 of them, about 1.6 s): the first try fails.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await migration.finish();
      await stopping;

      // Before: 'v 5', the 3 counted since the last flush lost ("failed ... and is not retried").
      expect(await processClient.hget(keys.totals, '["jobs_total",{}]')).toBe('v 8');
      expect(warned.filter((line) => line.startsWith('Flushing metrics'))).toEqual([
        expect.stringContaining(
          'failed while this process stopped flushing; it is tried again every 250 ms until it is written or the shutdown gives up: Redis Cluster: this prefix',
        ),
      ]);
    } finally {
      await manager.teardown();
      processClient.disconnect();
    }
  });
});

describe('Redis Cluster whose nodes require a password the client lacks', () => {
  let cluster: RedisClusterHandle;
  const SECRET = 'cluster-pa55word';

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicas: 0 });
    for (const node of cluster.nodes) {
      await respCall({ port: node.port }, 'CONFIG', 'SET', 'requirepass', SECRET);
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it.each([
    [
      'no password',
      {},
      `NOAUTH: the Redis Cluster requires a password (set the Cluster client's redisOptions.password)`,
    ],
    [
      'a wrong password',
      { password: 'not-the-password' },
      `WRONGPASS: wrong password or user "default" at the Redis Cluster (check the Cluster client's redisOptions.username / password)`,
    ],
  ])(
    '%s: flushes fail at once naming it, instead of waiting in the client, and the app closes at once',
    async (_, redisOptions, cause) => {
      // ioredis keeps the commands of a Cluster that is not ready in its queue without failing them:
      // the first flush waited there for good, set-up never ended, nothing was logged, and a shutdown
      // waited its whole allowance (scrapeTimeoutMs) for that flush.
      const client = new Cluster(cluster.startupNodes, {
        clusterRetryStrategy: () => 100,
        redisOptions,
      });
      client.on('error', () => undefined);
      const logged: string[] = [];
      const manager = new RedisStorageManager(
        {
          client,
          keyPrefix: uniquePrefix('cluster-auth'),
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
          freshScrapeWaitMs: 0,
        },
        {
          log: (m: string) => logged.push(m),
          warn: (m: string) => logged.push(m),
          error: (m: string) => logged.push(m),
        },
      );
      try {
        // Set-up waits up to 3 s for the client, then the first flush fails at once.
        expect(await settledWithin(manager.setup(), 5000)).toEqual({ value: false });
        const flushed = await settledWithin(manager.flush(), 1000);
        expect(flushed.value?.ok).toBe(false);
        expect(flushed.value?.error?.message).toBe(cause);
        const health = await manager.health();
        expect(health.status).toBe('degraded');
        expect(health.error).toBe(cause);
        expect(logged).toContain(
          `Flushing metrics to Redis under prefix "${manager.options.keyPrefix}" failed; counting goes on in memory and is retried every 250 ms: ${cause}`,
        );
        expect(JSON.stringify(logged) + JSON.stringify(health)).not.toContain(SECRET);
        expect(JSON.stringify(health)).not.toContain('not-the-password');
        // The flush's error, as a logger that prints causes shows it: ioredis' "Failed to refresh slots
        // cache" keeps the refused node's AUTH, with the password, as its lastNodeError.
        const shown = inspect(flushed.value?.error, { depth: Infinity });
        expect(shown).toContain('Failed to refresh slots cache');
        expect(shown).not.toContain('not-the-password');
      } finally {
        const closing = performance.now();
        await manager.teardown();
        // The last flush fails at once too; each wait of the shutdown could take 5 s (scrapeTimeoutMs).
        expect(performance.now() - closing).toBeLessThan(1000);
        client.disconnect();
      }
    },
  );

  it('closed while set-up waits for its fresh-scrape subscription: set-up ends without a line about the store it left', async () => {
    // Set-up went on to log that the store was unreachable and retried in the background, after the
    // app had closed; and with the subscriber's SUBSCRIBE left in its queue, it first waited its 3 s,
    // its timer keeping the process alive.
    // Between two attempts (each 2 s apart here), a closed Cluster client never fails its queue.
    const client = new Cluster(cluster.startupNodes, { clusterRetryStrategy: () => 2000 });
    client.on('error', () => undefined);
    const logged: string[] = [];
    const log = (m: string) => logged.push(m);
    const manager = new RedisStorageManager(
      {
        client,
        keyPrefix: uniquePrefix('cluster-close'),
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
      },
      { log, warn: log, error: log },
    );
    try {
      const setUp = manager.setup();
      await waitFor('the first flush to fail', async () => logged.length > 0);
      // The subscriber, made after it, has been refused too and waits to try again.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await manager.teardown();
      const ended = await settledWithin(setUp, 500);
      // Set-up waits for the subscription up to 3 s: nothing may come later either.
      await new Promise((resolve) => setTimeout(resolve, 3000));

      expect(ended).toEqual({ value: false });
      const cause =
        "NOAUTH: the Redis Cluster requires a password (set the Cluster client's redisOptions.password)";
      expect(logged).toEqual([
        `Flushing metrics to Redis under prefix "${manager.options.keyPrefix}" failed; counting goes on in memory and is retried every 250 ms: ${cause}`,
        // The shutdown's own line: its last flush failed too, and no flush was ever written.
        `Gave up flushing metrics to Redis under prefix "${manager.options.keyPrefix}" at shutdown (${cause}): everything this process counted is lost (Redis acknowledged none of its writes).`,
      ]);
    } finally {
      client.disconnect();
    }
  });

  it("deletes counts on the master of the prefix's slot, and a deletion through a Cluster client the nodes refuse rejects, never throws", async () => {
    const client = new Cluster(cluster.startupNodes, { redisOptions: { password: SECRET } });
    const refused = new Cluster(cluster.startupNodes, {
      clusterRetryStrategy: () => 100,
      redisOptions: { password: 'not-the-password' },
    });
    const refusals: Error[] = [];
    refused.on('error', (error: Error) => refusals.push(error));
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      const prefix = uniquePrefix('cluster-delete');
      const store = new RedisMetricsStore(client, prefix);
      const writer = ProcessIdentity.create({ hostname: 'h', pid: 1 });
      const glob = seriesField('orders_total', { shop: 'a*' });
      const other = seriesField('orders_total', { shop: 'b' });
      const longer = seriesField('orders_total_x', {});
      await store.write(writer, {
        expectedSeq: 0,
        seq: 1,
        metadata: [
          ['orders_total', { type: 'counter', help: 'Orders' }],
          ['orders_total_x', { type: 'counter', help: 'Other' }],
        ],
        counters: [
          [glob, 'v 2'],
          [other, 'v 3'],
          [longer, 'v 4'],
        ],
        exemplars: [[other, '1000 1 {"trace_id":"b"}']],
      });

      const deleted = [
        await store.deleteSeries('orders_total', { shop: 'a*' }),
        await store.deleteSeries('orders_total'),
      ];

      expect(deleted).toEqual([1, 1]);
      expect(await client.hgetall(store.keys.totals)).toEqual({
        [longer]: 'v 4',
        [MARKER.processSeq(writer.id)]: '1',
        [MARKER.born]: expect.any(String),
      });
      expect(await client.exists(store.keys.exemplars)).toBe(0);

      // Refused, so not ready: its commands cannot be sent, and each deletion says so as a rejection.
      await waitFor('the nodes to refuse the client', async () => refusals.length > 0);
      const refusedStore = new RedisMetricsStore(refused, prefix);
      const calls: Promise<number>[] = [];
      let thrown: unknown;
      for (const labels of [{ shop: 'b' }, undefined]) {
        try {
          calls.push(refusedStore.deleteSeries('orders_total', labels));
        } catch (error) {
          thrown = error;
        }
      }
      expect(thrown).toBeUndefined();
      for (const call of calls) await expect(call).rejects.toThrow('Connection is closed.');
    } finally {
      client.disconnect();
      refused.disconnect();
    }
  });

  it('a lazy Cluster client (lazyConnect) with the password: set-up connects it, and the first flush is written', async () => {
    // Its writes fail while it is not ready, so they must not be what connects it.
    const client = new Cluster(cluster.startupNodes, {
      lazyConnect: true,
      redisOptions: { password: SECRET },
    });
    const manager = new RedisStorageManager(
      {
        client,
        keyPrefix: uniquePrefix('cluster-lazy'),
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        freshScrapeWaitMs: 0,
      },
      { log: () => undefined, warn: () => undefined, error: () => undefined },
    );
    try {
      expect(await manager.setup()).toBe(true);
      expect((await manager.health()).status).toBe('up');
    } finally {
      await manager.teardown();
      client.disconnect();
    }
  });
});

/** What `work` resolved with, or `{ value: undefined }` when it did not settle within `ms`. */
async function settledWithin<T>(work: Promise<T>, ms: number): Promise<{ value: T | undefined }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), ms)),
  );
  try {
    return { value: await Promise.race([work, late]) };
  } finally {
    clearTimeout(timer);
  }
}
