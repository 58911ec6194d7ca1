import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import {
  MARKER,
  MemoryMetricsStore,
  mergeMetrics,
  MetricsFlusher,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  parseSnapshot,
  RedisMultiProcessCollector,
  seriesField,
  type DeclaredMode,
  type GaugeMode,
  type MetricsStore,
} from '../../src/index.js';
import { storeFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

/**
 * A deployment that changes a gauge's mode (the `gaugeModes` option) runs both versions for a while: a
 * canary, a rolling update, a rollback. The mode a scrape merges in is the one its live writers
 * declared, the newest declaration first; a process that ended takes its declaration with it, so the
 * gauge does not keep the mode of a version that no longer runs.
 */
describe.each(['redis', 'memory'] as const)(
  'a gauge whose mode changed between versions (%s store)',
  (kind) => {
    const redis = useTestRedis();

    function setUp(label: string, livenessWindowMs = 60_000) {
      const store: MetricsStore =
        kind === 'redis'
          ? new RedisMetricsStore(redis.client, redis.prefix(label))
          : new MemoryMetricsStore();
      const collector = new RedisMultiProcessCollector({ store, livenessWindowMs });
      /**
       * A process of the version that merges `queue_depth` in `mode`, its gauge (in `registry`) set to
       * `value`.
       */
      const start = async (
        pid: number,
        mode: GaugeMode,
        value: number,
        registry = new Registry(),
      ) => {
        const flusher = storeFlusher(store, registry, {
          identity: ProcessIdentity.create({ hostname: 'h', pid }),
          gaugeModeOf: () => mode,
        });
        new Gauge({ name: 'queue_depth', help: 'Jobs queued', registers: [registry] }).set(value);
        await flusher.flush();
        return flusher;
      };
      /** The merged `queue_depth` lines of a scrape. */
      const scrape = async () =>
        (await collector.metrics()).split('\n').filter((line) => line.startsWith('queue_depth'));
      return { start, scrape };
    }

    it('a canary in another mode that ended leaves the mode of the processes still running', async () => {
      const { start, scrape } = setUp('canary-ended');
      await start(1, 'sum', 5);
      await start(2, 'sum', 7);
      const canary = await start(3, 'max', 1);
      // While it runs, the newest declaration is the canary's.
      expect(await scrape()).toEqual(['queue_depth 7']);

      await canary.end();
      expect(await scrape()).toEqual(['queue_depth 12']);
    });

    it('a process whose gauge left its registry no longer declares its mode, until the gauge comes back', async () => {
      const { start, scrape } = setUp('gauge-removed');
      await start(1, 'sum', 5);
      await start(2, 'sum', 7);
      const registry = new Registry();
      const canary = await start(3, 'max', 1, registry);
      expect(await scrape()).toEqual(['queue_depth 7']);

      // The canary drops the gauge and goes on running: its series go, and its mode with them.
      registry.removeSingleMetric('queue_depth');
      await canary.flush();
      expect(await scrape()).toEqual(['queue_depth 12']);

      // Made again in the same mode, it is declared again.
      new Gauge({ name: 'queue_depth', help: 'Jobs queued', registers: [registry] }).set(9);
      await canary.flush();
      expect(await scrape()).toEqual(['queue_depth 9']);
    });

    it('a writer that is no longer live does not impose its mode on live ones', async () => {
      const { start, scrape } = setUp('canary-silent', 1000);
      const running = await start(1, 'sum', 5);
      // The canary declares `max` last, then stops writing without ending (killed, not yet reaped).
      await start(2, 'max', 1);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await running.flush();
      // `sum` counts every stored process, the silent one too: 5 + 1.
      expect(await scrape()).toEqual(['queue_depth 6']);
    });

    it('a rollback that ends leaves the mode of the newer processes still running', async () => {
      const { start, scrape } = setUp('rollback');
      await start(1, 'max', 5);
      await start(2, 'max', 7);
      const rolledBack = await start(3, 'sum', 4);
      expect(await scrape()).toEqual(['queue_depth 16']);
      await rolledBack.end();
      expect(await scrape()).toEqual(['queue_depth 7']);
    });
  },
);

describe('gauges of processes that declared no mode, or one this version does not know', () => {
  const redis = useTestRedis();
  const mode = MARKER.gaugeMode('queue_depth');

  function setUp(label: string, livenessWindowMs = 60_000) {
    const prefix = redis.prefix(label);
    const keys = new PrefixKeys(prefix);
    const store = new RedisMetricsStore(redis.client, prefix);
    const collector = new RedisMultiProcessCollector({ store, livenessWindowMs });
    const scrape = async () =>
      (await collector.metrics()).split('\n').filter((line) => line.startsWith('queue_depth'));
    /** A process that merges `queue_depth` in `mode`; its declaration removed, one of an older version. */
    const start = async (pid: number, mode: GaugeMode, value: number, older = false) => {
      const registry = new Registry();
      const identity = ProcessIdentity.create({ hostname: 'h', pid });
      const flusher = storeFlusher(store, registry, { identity, gaugeModeOf: () => mode });
      new Gauge({ name: 'queue_depth', help: 'Jobs queued', registers: [registry] }).set(value);
      await flusher.flush();
      const gauges = keys.gauges(identity.id);
      if (older) await redis.client.hdel(gauges, MARKER.gaugeMode('queue_depth'));
      return { flusher, gauges };
    };
    return { keys, scrape, start };
  }

  it("follow a declaring process's mode, and the metadata's when none declared one", async () => {
    const { keys, scrape, start } = setUp('undeclared');

    // Two processes of an older version that wrote `max` last.
    await start(1, 'max', 5, true);
    await start(2, 'max', 7, true);
    expect(await scrape()).toEqual(['queue_depth 7']);

    // A process of a newer version declares a mode this one cannot merge in: not taken.
    const newest = await start(3, 'max', 1);
    await redis.client.hset(newest.gauges, mode, 'median 99999999999999');
    expect(await scrape()).toEqual(['queue_depth 7']);

    // A process of this version declares `sum`, though the metadata says `max` (written before).
    await start(4, 'sum', 2);
    // An older process writes the metadata again after it.
    await redis.client.hset(
      keys.metadata,
      'queue_depth',
      '{"type":"gauge","help":"Jobs queued","mode":"max"}',
    );
    expect(await scrape()).toEqual(['queue_depth 15']);
  });

  it('follow the metadata of live processes of an older version before a declaration of one no longer live', async () => {
    const { scrape, start } = setUp('undeclared-live', 1000);
    // A canary of this version declares `max`, then is killed (not yet reaped).
    await start(1, 'max', 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // Processes of the older version write `sum` into the metadata after it, and declare nothing.
    await start(2, 'sum', 5, true);
    await start(3, 'sum', 7, true);
    // `sum` counts every stored process, the killed one too: 1 + 5 + 7.
    expect(await scrape()).toEqual(['queue_depth 13']);
  });
});

describe('the modes a snapshot holds', () => {
  it("are read per process, each with the store's time of its declaration, from the package's API", async () => {
    let now = 1000;
    const store = new MemoryMetricsStore(() => now);
    const identity = ProcessIdentity.create({ hostname: 'h', pid: 1 });
    await store.write(identity, {
      expectedSeq: 0,
      seq: 1,
      metadata: [
        ['queue_depth', { type: 'gauge', help: 'Jobs queued', mode: 'max' }],
        ['jobs_total', { type: 'counter', help: 'Jobs' }],
      ],
    });
    now = 2000;
    await store.write(identity, {
      expectedSeq: 1,
      seq: 2,
      metadata: [['busy', { type: 'gauge', help: 'Busy', mode: 'livesum' }]],
    });

    const declared: Map<string, Map<string, DeclaredMode>> | undefined = parseSnapshot(
      await store.read(),
    ).gaugeModes;

    expect(declared).toEqual(
      new Map([
        [
          identity.id,
          new Map([
            ['queue_depth', { mode: 'max', at: 1000 }],
            ['busy', { mode: 'livesum', at: 2000 }],
          ]),
        ],
      ]),
    );
  });

  it("leave a gauge to its metadata's mode when data made without them is merged", async () => {
    const store = new MemoryMetricsStore(() => 1000);
    for (const [pid, value] of [
      [1, 5],
      [2, 7],
    ]) {
      await store.write(ProcessIdentity.create({ hostname: 'h', pid }), {
        expectedSeq: 0,
        seq: 1,
        metadata: [['queue_depth', { type: 'gauge', help: 'Jobs queued', mode: 'sum' }]],
        gauges: [[seriesField('queue_depth', {}), { value }]],
      });
    }
    // As a caller of an earlier version builds it: no `gaugeModes`.
    const { gaugeModes, ...data } = parseSnapshot(await store.read());

    const { families } = mergeMetrics(data, { livenessWindowMs: 60_000 });

    expect(gaugeModes?.size).toBe(2);
    expect(families.map(({ name, samples }) => [name, samples.map((s) => s.value)])).toEqual([
      ['queue_depth', [12]],
    ]);
  });
});

/** A process (pid `pid` on host `h`) whose registry `make` fills, flushed once to `target`. */
async function writer(
  target: MetricsStore,
  pid: number,
  make: (registry: Registry) => void,
): Promise<MetricsFlusher> {
  const registry = new Registry();
  make(registry);
  const flusher = storeFlusher(target, registry, {
    identity: ProcessIdentity.create({ hostname: 'h', pid }),
    gaugeModeOf: () => 'sum',
  });
  await flusher.flush();
  return flusher;
}

describe('a metric whose type changed between versions', () => {
  const store = () => new MemoryMetricsStore();

  function scraping(target: MetricsStore) {
    const { collector, warnings } = collectorKeepingWarnings({
      store: target,
    });
    const scrape = async () =>
      (await collector.metrics()).split('\n').filter((line) => line.startsWith('jobs'));
    return { scrape, warnings };
  }

  it('says which counts of the old type are left out, and deleteCounts() takes them away', async () => {
    const target = store();
    // The old version counted `jobs` and ended; the new one has it as a gauge.
    const old = await writer(target, 1, (registry) => {
      new Counter({ name: 'jobs', help: 'Jobs', registers: [registry] }).inc(5);
    });
    await old.end();
    await writer(target, 2, (registry) => {
      new Gauge({ name: 'jobs', help: 'Jobs', registers: [registry] }).set(3);
    });
    const { scrape, warnings } = scraping(target);

    expect(await scrape()).toEqual(['jobs 3']);
    expect(await target.deleteSeries!('jobs')).toBe(1);
    expect(await scrape()).toEqual(['jobs 3']);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in this process's memory: "jobs" is a gauge but has counts of a counter, histogram or summary, left out (a version where it had another type wrote them; deleteCounts("jobs") deletes them)`,
    ]);
  });

  it('says that gauges of processes of the old type are left out until they end', async () => {
    const target = store();
    const old = await writer(target, 1, (registry) => {
      new Gauge({ name: 'jobs', help: 'Jobs', registers: [registry] }).set(3);
    });
    await writer(target, 2, (registry) => {
      new Counter({ name: 'jobs', help: 'Jobs', registers: [registry] }).inc(5);
    });
    const { scrape, warnings } = scraping(target);

    expect(await scrape()).toEqual(['jobs 5']);
    await old.end();
    expect(await scrape()).toEqual(['jobs 5']);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in this process's memory: "jobs" is a counter but processes hold it as a gauge, left out (processes of a version where it was a gauge; their gauges go when they end)`,
    ]);
  });
});

describe("the warning about counts of a metric's old type (redis store)", () => {
  const redis = useTestRedis();

  it('is logged once while the same counts stay, and again when others join them', async () => {
    const prefix = redis.prefix('old-type-warning');
    const target = new RedisMetricsStore(redis.client, prefix);
    // A rollback: the counter version ended, the gauge version runs; the counts stay in the totals.
    const old = await writer(target, 1, (registry) => {
      new Counter({ name: 'jobs', help: 'Jobs', registers: [registry] }).inc(5);
      new Counter({ name: 'runs', help: 'Runs', registers: [registry] }).inc(2);
    });
    await old.end();
    await writer(target, 2, (registry) => {
      new Gauge({ name: 'jobs', help: 'Jobs', registers: [registry] }).set(3);
    });
    const { collector, warnings } = collectorKeepingWarnings({ store: target });
    const scrape = async () =>
      (await collector.metrics()).split('\n').filter((line) => /^(jobs|runs)/.test(line));

    for (let i = 0; i < 3; i += 1) expect(await scrape()).toEqual(['jobs 3', 'runs 2']);
    // Another version turns `runs` into a gauge too: two entries now, named again.
    await writer(target, 3, (registry) => {
      new Gauge({ name: 'runs', help: 'Runs', registers: [registry] }).set(4);
    });
    for (let i = 0; i < 2; i += 1) expect(await scrape()).toEqual(['jobs 3', 'runs 4']);
    expect(await target.deleteSeries!('jobs')).toBe(1);
    expect(await target.deleteSeries!('runs')).toBe(1);
    expect(await scrape()).toEqual(['jobs 3', 'runs 4']);

    const jobs = `"jobs" is a gauge but has counts of a counter, histogram or summary, left out (a version where it had another type wrote them; deleteCounts("jobs") deletes them)`;
    const runs = `"runs" is a gauge but has counts of a counter, histogram or summary, left out (a version where it had another type wrote them; deleteCounts("runs") deletes them)`;
    const where = `in Redis under prefix "${prefix}"`;
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry ${where}: ${jobs}`,
      `Skipped 2 unreadable entries ${where}: ${jobs}; ${runs}`,
    ]);
  });

  it('names deleteCounts() for counts of a counter a histogram of the same name was written into, and serves the histogram after it', async () => {
    const prefix = redis.prefix('counter-to-histogram');
    const target = new RedisMetricsStore(redis.client, prefix);
    const registryOf = (pid: number, registry: Registry) =>
      storeFlusher(target, registry, {
        identity: ProcessIdentity.create({ hostname: 'h', pid }),
        gaugeModeOf: () => 'sum',
      });
    // The old version counted `tasks` and ended; the new one observes it as a histogram.
    const oldRegistry = new Registry();
    new Counter({ name: 'tasks', help: 'Tasks', registers: [oldRegistry] }).inc(5);
    const old = registryOf(1, oldRegistry);
    await old.flush();
    await old.end();
    const newRegistry = new Registry();
    const tasks = new Histogram({
      name: 'tasks',
      help: 'Tasks',
      buckets: [1],
      registers: [newRegistry],
    });
    const writer = registryOf(2, newRegistry);
    tasks.observe(0.5);
    tasks.observe(2);
    await writer.flush();
    const { collector, warnings } = collectorKeepingWarnings({ store: target });
    const scrape = async () =>
      (await collector.metrics()).split('\n').filter((line) => line.startsWith('tasks'));

    expect(await scrape()).toEqual([]);
    expect(await target.deleteSeries!('tasks')).toBe(1);
    tasks.observe(0.25);
    await writer.flush();
    expect(await scrape()).toEqual([
      'tasks_bucket{le="1"} 1',
      'tasks_bucket{le="+Inf"} 1',
      'tasks_sum 0.25',
      'tasks_count 1',
    ]);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": "tasks" []: the stored value is not a histogram's (v c s), left out (a version where the metric had another type wrote it; deleteCounts("tasks") deletes it)`,
    ]);
  });
});
