import { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import {
  MergedScrapeUnavailableError,
  MetricsFlusher,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  RedisStorageManager,
} from '../../src/index.js';
import {
  makeTempDir,
  removeTempDir,
  startRedisProcess,
  waitFor,
} from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';

type RedisProcess = Awaited<ReturnType<typeof startRedisProcess>>;

const FLUSH_MS = 150;
/**
 * Two flush intervals and a margin (for a loaded test machine): how long every live process may take
 * to repair its part. Under the default lost-data grace at this interval (two intervals and 2 s),
 * which a repair must not wait out.
 */
const REPAIR_BUDGET_MS = 2 * FLUSH_MS + 1800;

/** One simulated worker: its own registry, identity and flusher writing every FLUSH_MS. */
interface Worker {
  identity: ProcessIdentity;
  flusher: MetricsFlusher;
  warnings: string[];
  requests: Counter<'route'>;
  latency: Histogram;
  inflight: Gauge;
}

/**
 * Three live workers counting requests into one Redis, and what they counted, so a test can say
 * whether the merged scrape holds every counted request exactly once.
 */
function startFleet(client: Redis, prefix: string, size = 3) {
  const counted = { a: 0, b: 0 };
  const workers: Worker[] = [];
  for (let pid = 1; pid <= size; pid += 1) {
    const registry = new Registry();
    const identity = ProcessIdentity.create({ hostname: 'fleet', pid });
    const warnings: string[] = [];
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(client, prefix),
      identity,
      registry,
      intervalMs: FLUSH_MS,
      gaugeModeOf: () => 'livesum',
      logger: {
        // A timer flush that lands while Redis is down or still connecting fails and says so; that is
        // not what these tests are about (how soon a flush comes after a restart is timing).
        warn: (m) => void (m.startsWith('Flushing metrics to') || warnings.push(m)),
        log: () => undefined,
      },
    });
    workers.push({
      identity,
      flusher,
      warnings,
      requests: new Counter({
        name: 'requests_total',
        help: 'Requests',
        labelNames: ['route'],
        registers: [registry],
      }),
      latency: new Histogram({
        name: 'latency_seconds',
        help: 'Latency',
        buckets: [0.5],
        registers: [registry],
      }),
      inflight: new Gauge({ name: 'inflight', help: 'In flight', registers: [registry] }),
    });
    flusher.start();
  }
  const collector = new RedisMultiProcessCollector({
    store: new RedisMetricsStore(client, prefix),
    livenessWindowMs: 60_000,
    lostDataGraceMs: 2 * FLUSH_MS,
  });

  return {
    workers,
    /** Every worker serves `n` requests on each of two routes and observes as many latencies. */
    count(n: number) {
      for (const worker of workers) {
        for (let i = 0; i < n; i += 1) {
          worker.requests.inc({ route: i % 2 === 0 ? '/a' : '/b' });
          worker.latency.observe(i % 2 === 0 ? 0.25 : 1);
        }
        worker.inflight.set(n);
        counted.a += Math.ceil(n / 2);
        counted.b += Math.floor(n / 2);
      }
    },
    /** Waits until a merged scrape shows every counted request exactly once; returns how long it took. */
    async expectExact(): Promise<number> {
      const started = Date.now();
      // Route /a and latency 0.25 go together, as do /b and 1.
      const expected = () => [
        `latency_seconds_bucket{le="0.5"} ${counted.a}`,
        `latency_seconds_bucket{le="+Inf"} ${counted.a + counted.b}`,
        `latency_seconds_count ${counted.a + counted.b}`,
        `requests_total{route="/a"} ${counted.a}`,
        `requests_total{route="/b"} ${counted.b}`,
      ];
      let last: string[] | string = [];
      try {
        await waitFor(
          'the merged scrape to hold every counted request exactly once',
          async () => {
            try {
              const text = await collector.metrics();
              last = text
                .split('\n')
                .filter((line) => /^(requests_total|latency_seconds_(bucket|count))/.test(line));
            } catch (error) {
              if (!(error instanceof MergedScrapeUnavailableError)) throw error;
              last = error.message;
              return false;
            }
            return JSON.stringify(last) === JSON.stringify(expected());
          },
          { timeoutMs: REPAIR_BUDGET_MS, intervalMs: 25 },
        );
      } catch (error) {
        throw new Error(
          `${(error as Error).message}: expected ${JSON.stringify(expected())}, last ${JSON.stringify(last)}`,
          { cause: error },
        );
      }
      return Date.now() - started;
    },
    async stop() {
      await Promise.all(workers.map((w) => w.flusher.stop()));
    },
  };
}

function serverArgs(dir: string, extra: string[] = []) {
  return (port: number) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    'redis.log',
    // A replica syncs at once rather than after the default 5 s wait for more replicas.
    '--repl-diskless-sync-delay',
    '0',
    ...extra,
  ];
}

/** A client as the module makes one: no offline queue, fails fast, reconnects quickly. */
function moduleLikeClient(port: number): Redis {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    retryStrategy: () => 50,
  });
  client.on('error', () => undefined);
  return client;
}

describe('Redis holding less than a process was told: each live process repairs its part exactly', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function startServer(label: string, extra: string[] = []) {
    const dir = await makeTempDir(label);
    const server: RedisProcess = await startRedisProcess({
      dir,
      port: await freePort(),
      args: serverArgs(dir, extra),
    });
    cleanups.push(() => removeTempDir(dir));
    cleanups.push(() => server.kill());
    return server;
  }

  function connectTo(port: number): Redis {
    const client = moduleLikeClient(port);
    cleanups.push(() => client.disconnect());
    return client;
  }

  function fleetOn(client: Redis, prefix: string) {
    const fleet = startFleet(client, prefix);
    cleanups.push(() => fleet.stop());
    return fleet;
  }

  it('restarted empty (persistence off): every live process writes its counts again', async () => {
    const server = await startServer('restart');
    const fleet = fleetOn(connectTo(server.port), 'restart');
    fleet.count(10);
    await fleet.expectExact();

    await server.kill();
    fleet.count(5); // counted while Redis is down
    await server.restart();
    fleet.count(1);
    await fleet.expectExact();

    for (const worker of fleet.workers) {
      // One warning of the repair, naming what happened; the outage itself may have been seen too.
      expect(worker.warnings.filter((w) => !w.startsWith('Flushing metrics'))).toEqual([
        expect.stringContaining(
          'Redis no longer holds this process in the totals (restarted empty, flushed, or the key was evicted or deleted)',
        ),
      ]);
    }
  });

  it('restored from an older RDB snapshot: the counts made since the snapshot come back', async () => {
    const server = await startServer('snapshot', ['--dbfilename', 'dump.rdb']);
    const client = connectTo(server.port);
    const fleet = fleetOn(client, 'snapshot');
    fleet.count(10);
    await fleet.expectExact();
    await client.save();
    fleet.count(7);
    await fleet.expectExact();

    await server.kill(); // SIGKILL: the last snapshot is what the restart loads
    await server.restart();
    await fleet.expectExact();

    for (const worker of fleet.workers) {
      expect(worker.warnings.filter((w) => !w.startsWith('Flushing metrics'))).toEqual([
        expect.stringMatching(
          /Redis went back in time: its totals hold write \d+ of this process, which had written \d+/,
        ),
      ]);
    }
  });

  it('a replica that lagged is promoted: what it missed comes back', async () => {
    const master = await startServer('promote-master');
    const replica = await startServer('promote-replica', [
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    const proxy: TcpProxy = await startTcpProxy(master.port);
    cleanups.push(() => proxy.close());
    const fleet = fleetOn(connectTo(proxy.port), 'promote');
    const onMaster = connectTo(master.port);
    const onReplica = connectTo(replica.port);
    fleet.count(10);
    await fleet.expectExact();
    const keys = new PrefixKeys('promote');
    await waitFor('the replica to catch up', async () => {
      const [a, b] = await Promise.all([
        onMaster.hgetall(keys.totals),
        onReplica.hgetall(keys.totals),
      ]);
      return JSON.stringify(a) === JSON.stringify(b);
    });

    await onReplica.replicaof('NO', 'ONE'); // it stops following: from here on it lags
    fleet.count(6);
    await fleet.expectExact();
    // The failover: the address now reaches the replica, promoted, without the last writes.
    proxy.retarget(replica.port);
    await master.kill();
    fleet.count(2);
    await fleet.expectExact();

    for (const worker of fleet.workers) {
      expect(worker.warnings.filter((w) => !w.startsWith('Flushing metrics'))).toEqual([
        expect.stringContaining('Redis went back in time'),
      ]);
    }
  });

  /**
   * Two processes flushing by hand, the first one scraping with fresh scrapes off (nothing asks the
   * second one to write before a read); then a failover to a replica that stopped following before the
   * second one's last write, of which a scrape showed 7. The first one's own write is there.
   */
  async function failoverBehindOtherProcess(prefix: string) {
    const master = await startServer(`${prefix}-master`);
    const replica = await startServer(`${prefix}-replica`, [
      '--replicaof',
      '127.0.0.1',
      String(master.port),
    ]);
    const proxy: TcpProxy = await startTcpProxy(master.port);
    cleanups.push(() => proxy.close());
    const client = connectTo(proxy.port);
    const onReplica = connectTo(replica.port);
    const [scraping, other] = ['scraping', 'other'].map((name) => {
      const registry = new Registry();
      const counter = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
      const flusher = new MetricsFlusher({
        store: new RedisMetricsStore(client, prefix),
        identity: ProcessIdentity.create({ hostname: name, pid: 1 }),
        registry,
        intervalMs: 60_000,
        gaugeModeOf: () => 'all',
      });
      cleanups.push(() => flusher.stop());
      return { counter, flusher };
    });
    const collector = new RedisMultiProcessCollector({
      store: new RedisMetricsStore(client, prefix),
      lostDataGraceMs: 2 * FLUSH_MS,
      acknowledged: () => scraping.flusher.acknowledged(),
    });
    const scrape = async () => {
      const text = await collector.metrics();
      return Number(/^jobs_total (\S+)$/m.exec(text)?.[1]);
    };
    const flushUntilOk = (flusher: MetricsFlusher) =>
      waitFor('a flush to reach Redis', async () => (await flusher.flush()).ok || undefined);

    scraping.counter.inc();
    other.counter.inc();
    await flushUntilOk(scraping.flusher);
    await flushUntilOk(other.flusher);
    await waitFor('the replica to catch up', async () => {
      const total = await onReplica.hget(new PrefixKeys(prefix).totals, '["jobs_total",{}]');
      return total === 'v 2';
    });
    await onReplica.replicaof('NO', 'ONE'); // from here on it lags
    other.counter.inc(5);
    await flushUntilOk(other.flusher);
    expect(await scrape()).toBe(7);

    proxy.retarget(replica.port);
    await master.kill();
    await flushUntilOk(scraping.flusher);
    expect(scraping.flusher.lastResult?.repaired).toBeUndefined();
    return { scrape, other, flushUntilOk };
  }

  it('a lagging replica promoted: a scrape before the other process writes again is not lower than an earlier one', async () => {
    const { scrape, other, flushUntilOk } = await failoverBehindOtherProcess('behind');
    // A 200 with 2 here would read to Prometheus as a counter reset.
    await expect(scrape()).rejects.toThrow(
      /holds an older write of 1 process than an earlier scrape showed/,
    );
    // The other process writes again and repairs its part: then the exact count.
    await flushUntilOk(other.flusher);
    expect(await waitFor('a merged scrape', async () => scrape().catch(() => undefined))).toBe(7);
  });

  it('a lagging replica promoted and the other process gone for good: scrapes wait out one grace, not for ever', async () => {
    const { scrape } = await failoverBehindOtherProcess('behind-gone');
    await expect(scrape()).rejects.toThrow(/holds an older write of 1 process/);
    // What it wrote last is lost with it, as the counts of a process that ended before a loss.
    const started = Date.now();
    expect(await waitFor('a merged scrape', async () => scrape().catch(() => undefined))).toBe(2);
    expect(Date.now() - started).toBeLessThan(REPAIR_BUDGET_MS);
  });

  it('the metadata hash deleted (evicted, a stray DEL): the families come back', async () => {
    const server = await startServer('metadata');
    const client = connectTo(server.port);
    const fleet = fleetOn(client, 'metadata');
    fleet.count(4);
    await fleet.expectExact();

    await client.del(new PrefixKeys('metadata').metadata);
    fleet.count(3);
    await fleet.expectExact();

    for (const worker of fleet.workers) {
      expect(worker.warnings).toEqual([
        expect.stringContaining('the metric metadata was lost (evicted or deleted)'),
      ]);
    }
  });

  it("one process's hashes deleted: only that process repairs, and nothing is counted twice", async () => {
    const server = await startServer('process-hash');
    const client = connectTo(server.port);
    const fleet = fleetOn(client, 'process-hash');
    const keys = new PrefixKeys('process-hash');
    fleet.count(8);
    await fleet.expectExact();
    const [first, second, third] = fleet.workers;

    await client.del(keys.counters(first.identity.id), keys.gauges(second.identity.id));
    fleet.count(2);
    await fleet.expectExact();

    expect(first.warnings).toEqual([
      expect.stringContaining(
        "this process's previous counter values were lost (evicted or deleted)",
      ),
    ]);
    expect(second.warnings).toEqual([
      expect.stringContaining("this process's gauges were lost (evicted or deleted)"),
    ]);
    expect(third.warnings).toEqual([]);
  });

  it('a module key of the wrong type is replaced and its data written again', async () => {
    const server = await startServer('wrong-type');
    const client = connectTo(server.port);
    const fleet = fleetOn(client, 'wrong-type');
    const keys = new PrefixKeys('wrong-type');
    fleet.count(6);
    await fleet.expectExact();

    await client.del(keys.totals);
    await client.set(keys.totals, 'a string where the totals belong');
    fleet.count(1);
    await fleet.expectExact();

    const warnings = fleet.workers.flatMap((w) => w.warnings);
    expect(warnings).toHaveLength(3);
    expect(
      warnings.filter((w) => w.includes(`${keys.totals} held another type and was replaced`)),
    ).toHaveLength(1);
    expect(
      warnings.every((w) => w.includes('Redis no longer holds this process in the totals')),
    ).toBe(true);
  });

  it('a write applied whose reply was lost counts once when it is retried', async () => {
    const server = await startServer('lost-reply');
    const admin = connectTo(server.port);
    // The flusher's client gives up on a reply after 100 ms; Redis still runs the write later.
    const impatient = new Redis({
      port: server.port,
      host: '127.0.0.1',
      commandTimeout: 100,
      maxRetriesPerRequest: 0,
    });
    impatient.on('error', () => undefined);
    cleanups.push(() => impatient.disconnect());
    const registry = new Registry();
    const counter = new Counter({ name: 'once_total', help: 'Once', registers: [registry] });
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(impatient, 'lost-reply'),
      identity: ProcessIdentity.create(),
      registry,
      intervalMs: 60_000,
      gaugeModeOf: () => 'all',
    });
    counter.inc(4);
    expect((await flusher.flush()).ok).toBe(true);

    counter.inc(3);
    await admin.call('CLIENT', 'PAUSE', '400', 'WRITE');
    const timedOut = await flusher.flush();
    // The paused write runs when the pause ends.
    const totals = new PrefixKeys('lost-reply').totals;
    await waitFor(
      'the paused write',
      async () => (await admin.hget(totals, '["once_total",{}]')) === 'v 7',
    );
    const retried = await flusher.flush();

    expect(timedOut.ok).toBe(false);
    expect(timedOut.error?.message).toMatch(/timed out/i);
    // The retry finds its markers at the unanswered write's number, takes it as applied, sends nothing.
    expect(retried).toMatchObject({ ok: true, sent: 0, repaired: undefined });
    counter.inc(1);
    await flusher.flush();
    expect(await admin.hget(new PrefixKeys('lost-reply').totals, '["once_total",{}]')).toBe('v 8');
  });

  it("serves the process's own registry with scrapeFallback 'local' while the totals are written again, 503 without", async () => {
    const server = await startServer('lost-local');
    const client = connectTo(server.port);
    const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
    const [strict, local] = (['none', 'local'] as const).map((scrapeFallback, index) => {
      const registry = new Registry();
      new Counter({ name: 'kept_total', help: 'Counted', registers: [registry] }).inc(index + 2);
      const manager = new RedisStorageManager(
        {
          url: `redis://127.0.0.1:${server.port}`,
          keyPrefix: 'lost-local',
          registry,
          defaultMetrics: false,
          freshScrapeWaitMs: 0,
          scrapeFallback,
        },
        quiet,
      );
      cleanups.push(() => manager.teardown());
      return manager;
    });
    expect(await strict.setup()).toBe(true);
    expect(await local.setup()).toBe(true);
    expect((await strict.metrics()).body).toContain('\nkept_total 5\n');

    await client.del('{lost-local}:totals');
    // Within the lost-data grace (2.5 s at the default flush interval) the merged totals are partial.
    const [strictAnswer, localAnswer] = await Promise.all([strict.metrics(), local.metrics()]);

    expect(strictAnswer.status).toBe(503);
    expect(localAnswer.status).toBe(200);
    expect(localAnswer.body).toContain('\nkept_total 3\n');
  });

  it('warns at start-up when Redis may evict the module keys', async () => {
    const server = await startServer('evicting', ['--maxmemory-policy', 'allkeys-lru']);
    const warnings: string[] = [];
    const manager = new RedisStorageManager(
      {
        url: `redis://127.0.0.1:${server.port}`,
        keyPrefix: 'evicting',
        registry: new Registry(),
        defaultMetrics: false,
      },
      { log: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined },
    );
    cleanups.push(() => manager.teardown());

    await manager.setup();
    await waitFor('the eviction warning', async () => warnings.length > 0);

    expect(warnings).toEqual([
      "Redis has maxmemory-policy allkeys-lru: under memory pressure it may evict this module's keys. Each live process repairs its own part, but the counts of processes that ended before are lost. Prefer noeviction or a volatile-* policy for the Redis that holds metrics.",
    ]);
  });
});
