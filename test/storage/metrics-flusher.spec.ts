import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

import {
  decodePacked,
  isMarkerField,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
  snapshotRegistry,
  type MetricsFlusherOptions,
} from '../../src/index.js';
import { FailingStore } from '../harness/failing-store.js';
import { seededRandom } from '../harness/seeded-random.js';
import { storeFlusher, testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

describe('MetricsFlusher against a real Redis', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('flusher');
  const keys = new PrefixKeys(prefix);

  function makeFlusher(registry: Registry, options: Partial<MetricsFlusherOptions> = {}) {
    const identity = ProcessIdentity.create();
    const flusher = testFlusher(redis.client, prefix, registry, { identity, ...options });
    return { identity, flusher };
  }

  /** A series of the totals as slot -> number. */
  async function total(field: string): Promise<Record<string, number> | undefined> {
    const text = await redis.client.hget(keys.totals, field);
    return text === null ? undefined : Object.fromEntries(decodePacked(text)!);
  }

  async function gaugeValues(identity: ProcessIdentity): Promise<Record<string, number>> {
    const raw = await redis.client.hgetall(keys.gauges(identity.id));
    return Object.fromEntries(
      Object.entries(raw)
        .filter(([field]) => !isMarkerField(field))
        .map(([f, v]) => [f, Number(v.split(' ')[0])]),
    );
  }

  it('adds counters, histograms and summary counts into the shared totals and keeps gauges per process', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'orders_a',
      help: 'Orders',
      labelNames: ['shop'],
      registers: [registry],
    });
    const gauge = new Gauge({ name: 'queue_depth_a', help: 'Queue depth', registers: [registry] });
    const histogram = new Histogram({
      name: 'latency_a',
      help: 'Latency',
      buckets: [0.1, 1],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'size_a',
      help: 'Size',
      percentiles: [0.5],
      registers: [registry],
    });
    collectDefaultMetrics({ register: registry });
    // prom-client counts CPU from here, and the kernel in ticks: spend some, so the count is above 0.
    const cpuFrom = process.cpuUsage();
    while (process.cpuUsage(cpuFrom).user === 0);
    counter.inc({ shop: 'north' }, 2);
    counter.inc({ shop: 'north' });
    gauge.set(17);
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(5);
    summary.observe(4);
    const { identity, flusher } = makeFlusher(registry, {
      gaugeModeOf: (name) => (name === 'queue_depth_a' ? 'livesum' : 'max'),
    });
    const before = await snapshotRegistry(registry, () => 'all');

    const result = await flusher.flush();

    expect(result.ok).toBe(true);
    expect(await total(seriesField('orders_a', { shop: 'north' }))).toEqual({ v: 3 });
    expect(await total(seriesField('latency_a', {}))).toEqual({
      c: 3,
      s: 5.55,
      '0.1': 1,
      '1': 2,
      '+Inf': 3,
    });
    expect(await total(seriesField('size_a', {}))).toEqual({ c: 1, s: 4 });
    expect((await total(seriesField('process_cpu_user_seconds_total', {})))!.v).toBeGreaterThan(0);
    const gauges = await gaugeValues(identity);
    expect(gauges[seriesField('queue_depth_a', {})]).toBe(17);
    // Only gauges are kept per process for a scrape, and the summary's quantile window.
    const window = await redis.client.hget(keys.gauges(identity.id), seriesField('size_a', {}));
    expect(window).toBe('q +Inf 4');
    delete gauges[seriesField('size_a', {})];
    expect(Object.keys(gauges).every((f) => before.gauges.has(f))).toBe(true);

    // Everything the registry holds and nothing else. Default metrics may gain or lose a series while
    // the flush runs (a GC, a handle closing): what was there before must be stored.
    const counters = await redis.client.hgetall(keys.counters(identity.id));
    const steady = [...before.counters.keys()];
    expect(steady.filter((f) => !(f in counters))).toEqual([]);
    expect(result.sent).toBe(Object.keys(counters).length - 1 + Object.keys(gauges).length);

    expect(JSON.parse((await redis.client.hget(keys.metadata, 'queue_depth_a'))!)).toEqual({
      type: 'gauge',
      help: 'Queue depth',
      mode: 'livesum',
    });
    expect(JSON.parse((await redis.client.hget(keys.metadata, 'orders_a'))!)).toEqual({
      type: 'counter',
      help: 'Orders',
    });
    expect(JSON.parse((await redis.client.hget(keys.metadata, 'latency_a'))!)).toEqual({
      type: 'histogram',
      help: 'Latency',
    });
    expect(JSON.parse((await redis.client.hget(keys.metadata, 'size_a'))!)).toEqual({
      type: 'summary',
      help: 'Size',
      percentiles: [0.5],
    });
  });

  it('sends only what changed, and adds only the difference to the totals', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'hits_b',
      help: 'Hits',
      labelNames: ['page'],
      registers: [registry],
    });
    counter.inc({ page: 'a' });
    counter.inc({ page: 'b' });
    const { flusher } = makeFlusher(registry);
    const other = makeFlusher(new Registry());
    expect((await flusher.flush()).sent).toBe(2);

    counter.inc({ page: 'b' }, 4);
    const second = await flusher.flush();
    const idle = await other.flusher.flush();

    expect(second).toMatchObject({ ok: true, sent: 1, removed: 0, calls: 1 });
    expect(idle).toMatchObject({ ok: true, sent: 0, calls: 1 });
    expect(await total(seriesField('hits_b', { page: 'a' }))).toEqual({ v: 1 });
    expect(await total(seriesField('hits_b', { page: 'b' }))).toEqual({ v: 5 });
  });

  it('sums the same series of several processes in the totals', async () => {
    const made = [1, 2, 3].map((n) => {
      const registry = new Registry();
      const counter = new Counter({ name: 'shared_c', help: 'S', registers: [registry] });
      counter.inc(n * 10);
      return makeFlusher(registry);
    });
    for (const { flusher } of made) expect((await flusher.flush()).ok).toBe(true);
    expect(await total(seriesField('shared_c', {}))).toEqual({ v: 60 });
  });

  it('a write replayed as it was counts once: the store refuses it by its sequence number', async () => {
    const registry = new Registry();
    new Counter({ name: 'replayed_d', help: 'R', registers: [registry] }).inc(9);
    const identity = ProcessIdentity.create();
    const store = new RedisMetricsStore(redis.client, prefix);
    const batch = {
      expectedSeq: 0,
      seq: 1,
      metadata: [['replayed_d', { type: 'counter', help: 'R' }]] as [
        string,
        { type: 'counter'; help: string },
      ][],
      counters: [[seriesField('replayed_d', {}), 'v 9']] as [string, string][],
    };

    const first = await store.write(identity, batch);
    const replay = await store.write(identity, batch);

    expect(first.status).toBe('applied');
    expect(replay).toMatchObject({
      status: 'mismatch',
      markers: { counters: 1, gauges: 1, totals: 1, metadata: 1, ended: null },
    });
    expect(await total(seriesField('replayed_d', {}))).toEqual({ v: 9 });
  });

  it('a counter that went down (reset) never lowers the total: its new value counts from zero', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'resets_e',
      help: 'R',
      labelNames: ['k'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'reset_h_e',
      help: 'H',
      buckets: [1],
      registers: [registry],
    });
    counter.inc({ k: 'a' }, 5);
    histogram.observe(0.5);
    histogram.observe(2);
    const { flusher } = makeFlusher(registry);
    await flusher.flush();

    counter.reset();
    histogram.reset();
    counter.inc({ k: 'a' }, 2);
    histogram.observe(3);
    await flusher.flush();
    // Gone between two flushes and back with more than before: counted from zero too.
    counter.reset();
    await flusher.flush();
    counter.inc({ k: 'a' }, 7);
    await flusher.flush();

    expect(await total(seriesField('resets_e', { k: 'a' }))).toEqual({ v: 14 });
    expect(await total(seriesField('reset_h_e', {}))).toEqual({ c: 3, s: 5.5, '1': 1, '+Inf': 3 });
  });

  it('a histogram reset and observed as often again between two flushes never lowers a bucket', async () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'reset_same_count_e',
      help: 'H',
      buckets: [1],
      registers: [registry],
    });
    histogram.observe(0.5);
    histogram.observe(0.5);
    const { flusher } = makeFlusher(registry);
    await flusher.flush();

    // The count is 2 again, but the bucket at 1 went from 2 to 0: a reset, counted from zero.
    histogram.reset();
    histogram.observe(5);
    histogram.observe(5);
    await flusher.flush();

    expect(await total(seriesField('reset_same_count_e', {}))).toEqual({
      c: 4,
      s: 11,
      '1': 2,
      '+Inf': 4,
    });
  });

  it('a counter that mirrors an outside total with reset() and inc() in collect() adds its increase only', async () => {
    // prom-client's Counter has no set(): reset() and inc(total) is how a collect() sets one, and it
    // makes a new series object at every collect.
    let outside = 100;
    const registry = new Registry();
    new Counter({
      name: 'mirrored_total',
      help: 'M',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(outside);
      },
    });
    const { flusher } = makeFlusher(registry);
    const totals: (number | undefined)[] = [];
    for (const value of [100, 105, 110]) {
      outside = value;
      await flusher.flush({ collect: true });
      totals.push((await total(seriesField('mirrored_total', {})))?.v);
    }

    expect(totals).toEqual([100, 105, 110]);
  });

  it('keeps floats exact: sums are doubles, not 17 decimal places', async () => {
    const registry = new Registry();
    const tiny = new Counter({ name: 'tiny_f', help: 'T', registers: [registry] });
    const precise = new Counter({ name: 'precise_f', help: 'P', registers: [registry] });
    tiny.inc(1e-18);
    precise.inc(1.2345678901234568e-10);
    const { flusher } = makeFlusher(registry);
    const other = new Registry();
    new Counter({ name: 'tiny_f', help: 'T', registers: [other] }).inc(2e-18);
    const second = makeFlusher(other);

    await flusher.flush();
    await second.flusher.flush();

    // The sum of two doubles, as JavaScript adds them: no rounding to decimal places.
    expect((await total(seriesField('tiny_f', {})))!.v).toBe(1e-18 + 2e-18);
    expect((await total(seriesField('precise_f', {})))!.v).toBe(1.2345678901234568e-10);
  });

  it('removes a gauge series that the registry dropped; counts stay in the totals', async () => {
    const registry = new Registry();
    const gauge = new Gauge({
      name: 'conns_g',
      help: 'C',
      labelNames: ['db'],
      registers: [registry],
    });
    const counter = new Counter({
      name: 'queries_g',
      help: 'Q',
      labelNames: ['db'],
      registers: [registry],
    });
    gauge.set({ db: 'a' }, 1);
    gauge.set({ db: 'b' }, 2);
    counter.inc({ db: 'a' });
    const { identity, flusher } = makeFlusher(registry);
    await flusher.flush();

    gauge.remove({ db: 'a' });
    counter.remove({ db: 'a' });
    const result = await flusher.flush();

    expect(result).toMatchObject({ ok: true, sent: 0, removed: 2 });
    expect(await gaugeValues(identity)).toEqual({ [seriesField('conns_g', { db: 'b' })]: 2 });
    expect(await total(seriesField('queries_g', { db: 'a' }))).toEqual({ v: 1 });
  });

  it('counts what a removed series counted since the last flush, or through a failed flush, before its field goes', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_r',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'wait_r',
      help: 'W',
      labelNames: ['queue'],
      buckets: [1],
      registers: [registry],
    });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const identity = ProcessIdentity.create();
    const flusher = storeFlusher(store, registry, { identity });
    const a = { queue: 'a' };
    const b = { queue: 'b' };
    counter.inc(a, 8);
    histogram.observe(a, 0.5);
    counter.inc(b, 3);
    expect((await flusher.flush()).ok).toBe(true);

    // Counted after the last flush, then removed before the next.
    counter.inc(a);
    histogram.observe(a, 2);
    counter.remove(a);
    histogram.remove(a);
    // Counted, the flush that carried it failed, then removed before the next.
    counter.inc(b, 4);
    store.plan.push({ call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);
    counter.remove(b);
    expect(await flusher.flush()).toMatchObject({ ok: true, removed: 3 });

    expect(await total(seriesField('jobs_r', a))).toEqual({ v: 9 });
    expect(await total(seriesField('wait_r', a))).toEqual({ c: 2, s: 2.5, '1': 1, '+Inf': 2 });
    expect(await total(seriesField('jobs_r', b))).toEqual({ v: 7 });
    // Their fields went from the process's previous values all the same.
    const own = await redis.client.hgetall(keys.counters(identity.id));
    expect(Object.keys(own).filter((field) => !isMarkerField(field))).toEqual([]);
  });

  it('counts what a series counted before it was removed and made again, or zeroed, between two flushes', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_m',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'wait_m',
      help: 'W',
      labelNames: ['queue'],
      buckets: [1],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'size_m',
      help: 'S',
      labelNames: ['queue'],
      registers: [registry],
    });
    const { flusher } = makeFlusher(registry);
    const a = { queue: 'a' };
    const b = { queue: 'b' };
    counter.inc(a, 3);
    histogram.observe(a, 0.5);
    histogram.observe(b, 0.5);
    summary.observe(a, 4);
    expect((await flusher.flush()).ok).toBe(true);

    // Counted after the last flush, then removed and made again before the next.
    counter.inc(a, 2);
    counter.remove(a);
    counter.inc(a);
    histogram.observe(a, 2);
    histogram.remove(a);
    histogram.observe(a, 0.5);
    summary.observe(a, 5);
    summary.remove(a);
    summary.observe(a, 1);
    // Counted after the last flush, then zeroed.
    histogram.observe(b, 2);
    histogram.zero(b);
    expect((await flusher.flush()).ok).toBe(true);

    expect(await total(seriesField('jobs_m', a))).toEqual({ v: 6 });
    expect(await total(seriesField('wait_m', a))).toEqual({ c: 3, s: 3, '1': 2, '+Inf': 3 });
    expect(await total(seriesField('wait_m', b))).toEqual({ c: 2, s: 2.5, '1': 1, '+Inf': 2 });
    expect(await total(seriesField('size_m', a))).toEqual({ c: 3, s: 10 });
  });

  /** A registry with one counter by `queue`, flushed through a store that fails the calls planned. */
  function queueCounter(name: string) {
    const registry = new Registry();
    const counter = new Counter({ name, help: 'J', labelNames: ['queue'], registers: [registry] });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const { identity, flusher } = makeFlusher(registry, { store });
    return { registry, counter, store, identity, flusher };
  }

  it('counts a series that left its field and came back (default labels changed and changed back) once', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_back',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'wait_back',
      help: 'W',
      labelNames: ['queue'],
      buckets: [1],
      registers: [registry],
    });
    const { flusher } = makeFlusher(registry);
    const a = { queue: 'a' };
    const b = { queue: 'b' };
    counter.inc(a, 2);
    counter.inc(b, 5);
    histogram.observe(a, 0.5);
    expect((await flusher.flush()).ok).toBe(true);

    // Every series moves to a field with the default label, goes on counting there, and comes back.
    registry.setDefaultLabels({ zone: 'z1' });
    counter.inc(a);
    histogram.observe(a, 2);
    expect((await flusher.flush()).ok).toBe(true);
    registry.setDefaultLabels({});
    counter.inc(a, 4);
    expect((await flusher.flush()).ok).toBe(true);

    // Each field holds what was counted while the series showed it: as prom-client shows it now.
    const atZ1 = { ...a, zone: 'z1' };
    expect(await total(seriesField('jobs_back', a))).toEqual({ v: 7 });
    expect(await total(seriesField('jobs_back', atZ1))).toEqual({ v: 3 });
    expect(await total(seriesField('jobs_back', b))).toEqual({ v: 5 });
    expect(await total(seriesField('jobs_back', { ...b, zone: 'z1' }))).toEqual({ v: 5 });
    expect(await total(seriesField('wait_back', a))).toEqual({ c: 2, s: 2.5, '1': 1, '+Inf': 2 });
    expect(await total(seriesField('wait_back', atZ1))).toEqual({
      c: 2,
      s: 2.5,
      '1': 1,
      '+Inf': 2,
    });

    // A series that ends while away (removed, and made anew from zero) counts in full on its return.
    registry.setDefaultLabels({ zone: 'z1' });
    expect((await flusher.flush()).ok).toBe(true);
    counter.remove(a);
    registry.setDefaultLabels({});
    counter.inc(a, 9);
    expect((await flusher.flush()).ok).toBe(true);
    expect(await total(seriesField('jobs_back', a))).toEqual({ v: 16 });
    expect(await total(seriesField('jobs_back', atZ1))).toEqual({ v: 7 });
    // Another series of the metric, back once more, is still counted once.
    expect(await total(seriesField('jobs_back', b))).toEqual({ v: 5 });
  });

  it.each([
    {
      // The write that moves the series and deletes its previous value is applied; its reply is lost.
      when: 'it came back before the delete of its previous value was known to be applied',
      name: 'jobs_lost',
      fault: ({ store }: ReturnType<typeof queueCounter>) => {
        store.plan.push({ call: 'write', failure: 'after' });
        return Promise.resolve();
      },
      movedOk: false,
    },
    {
      // Redis lost this process's gauges, so the flush that moves the series repairs before it deletes
      // the previous value the series left.
      when: 'it left its field in a flush that repaired the store',
      name: 'jobs_repaired_away',
      fault: async ({ identity }: ReturnType<typeof queueCounter>) => {
        await redis.client.del(keys.gauges(identity.id));
      },
      movedOk: true,
    },
  ])(
    'counts a series that moved away and came back once when $when',
    async ({ name, fault, movedOk }) => {
      const moving = queueCounter(name);
      const { registry, counter, flusher } = moving;
      const a = { queue: 'a' };
      counter.inc(a, 2);
      expect((await flusher.flush()).ok).toBe(true);

      registry.setDefaultLabels({ zone: 'z1' });
      counter.inc(a);
      await fault(moving);
      expect((await flusher.flush()).ok).toBe(movedOk);
      registry.setDefaultLabels({});
      counter.inc(a, 4);
      expect((await flusher.flush()).ok).toBe(true);

      expect(await total(seriesField(name, a))).toEqual({ v: 7 });
      expect(await total(seriesField(name, { ...a, zone: 'z1' }))).toEqual({ v: 3 });
    },
  );

  it('keeps under each field the value last shown there while default labels change back and forth, through failed writes', async () => {
    const random = seededRandom(11);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_moving',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'wait_moving',
      help: 'W',
      labelNames: ['queue'],
      buckets: [1],
      registers: [registry],
    });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const { flusher } = makeFlusher(registry, { store });
    const queues = ['a', 'b', 'c'];
    const defaultLabels = [{}, { zone: 'z1' }, { zone: 'z2' }];
    // Field -> the packed value the registry showed under it at the latest flush that showed it.
    const lastShown = new Map<string, string>();
    let failed = 0;
    for (let step = 0; step < 60; step += 1) {
      for (let i = 0; i < 3; i += 1) {
        if (random() < 0.5) counter.inc({ queue: pick(queues) }, 1 + Math.floor(random() * 3));
        // Quarters: their sums are exact, as the totals' additions must be to compare equal.
        else histogram.observe({ queue: pick(queues) }, Math.floor(random() * 8) / 4);
      }
      if (random() < 0.3) registry.setDefaultLabels(pick(defaultLabels));
      // Without a removal or reset, a series counts on: each field's total is what it showed there last.
      const { counters } = await snapshotRegistry(registry, () => 'all');
      for (const [field, packed] of counters) lastShown.set(field, packed);
      const failure = random() < 0.25 ? pick(['before', 'after'] as const) : undefined;
      if (failure !== undefined) {
        store.plan.push({ call: 'write', failure });
        failed += 1;
      }
      expect((await flusher.flush()).ok).toBe(failure === undefined);
      if (failure !== undefined) continue;
      const totals = await redis.client.hgetall(keys.totals);
      const numbers = (entries: Iterable<[string, string]>) =>
        Object.fromEntries(
          [...entries]
            .filter(([field]) => /^\["(jobs|wait)_moving"/.test(field))
            .map(([field, packed]) => [field, Object.fromEntries(decodePacked(packed)!)]),
        );
      expect(numbers(Object.entries(totals))).toEqual(numbers(lastShown));
    }
    expect(failed).toBe(17);
  });

  it('counts a series once that came back after a repair that found the totals whole', async () => {
    const { registry, counter, store, identity, flusher } = queueCounter('jobs_back_after_repair');
    const [a, b] = [{ queue: 'a' }, { queue: 'b' }];
    counter.inc(a, 2);
    counter.inc(b, 5);
    expect((await flusher.flush()).ok).toBe(true);
    registry.setDefaultLabels({ zone: 'z1' });
    counter.inc(a);
    expect((await flusher.flush()).ok).toBe(true);

    // Redis lost this process's gauges, not the totals: a repair, then the series come back.
    await redis.client.del(keys.gauges(identity.id));
    const repaired = await flusher.flush();
    expect(repaired.ok).toBe(true);
    expect(repaired.repaired).toBeDefined();
    registry.setDefaultLabels({});
    counter.inc(a, 4);
    expect((await flusher.flush()).ok).toBe(true);
    expect(await total(seriesField('jobs_back_after_repair', a))).toEqual({ v: 7 });
    expect(await total(seriesField('jobs_back_after_repair', b))).toEqual({ v: 5 });

    // Back on a field in the same flush as the repair, whose load of its value never reached Redis.
    registry.setDefaultLabels({ zone: 'z1' });
    expect((await flusher.flush()).ok).toBe(true);
    registry.setDefaultLabels({});
    counter.inc(b, 1);
    await redis.client.del(keys.gauges(identity.id));
    store.plan.push({ call: 'base-write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);
    const again = await flusher.flush();
    expect(again.ok).toBe(true);
    expect(await total(seriesField('jobs_back_after_repair', a))).toEqual({ v: 7 });
    expect(await total(seriesField('jobs_back_after_repair', b))).toEqual({ v: 6 });
  });

  // Only a metric whose series left a field looks its new series up among those that left: a first read
  // of a large metric made after another one's series moved looks up none.
  it('looks up no series of a metric none of whose series moved away, after series of another moved', async () => {
    const registry = new Registry();
    const moving = new Counter({ name: 'moving_total', help: 'Moving', registers: [registry] });
    const { flusher } = makeFlusher(registry);
    moving.inc();
    expect((await flusher.flush()).ok).toBe(true);
    registry.setDefaultLabels({ zone: 'z1' });
    expect((await flusher.flush()).ok).toBe(true);

    const large = new Counter({
      name: 'large_total',
      help: 'Large',
      labelNames: ['n'],
      registers: [registry],
    });
    for (let n = 0; n < 1000; n += 1) large.inc({ n });
    const entries = new Set<unknown>(
      Object.values((large as unknown as { hashMap: Record<string, object> }).hashMap),
    );
    const get = WeakMap.prototype.get;
    let lookups = 0;
    WeakMap.prototype.get = function (this: WeakMap<object, unknown>, key: object) {
      if (entries.has(key)) lookups += 1;
      return get.call(this, key);
    };
    try {
      expect((await flusher.flush()).ok).toBe(true);
    } finally {
      WeakMap.prototype.get = get;
    }
    expect(lookups).toBe(0);
    expect(await total('["large_total",{"n":"7","zone":"z1"}]')).toEqual({ v: 1 });
  });

  it('counts what a removed series counted through a failed flush once when a repair follows before its delete', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_q',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const identity = ProcessIdentity.create();
    const flusher = storeFlusher(store, registry, { identity });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((queue) => ({ queue }));
    counter.inc(a, 3);
    counter.inc(c, 3);
    expect((await flusher.flush()).ok).toBe(true);

    // Counted, the flush that carried it never reached Redis, then removed.
    counter.inc(a, 2);
    counter.inc(b, 4);
    store.plan.push({ call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);
    counter.remove(a);
    counter.remove(b);
    // Redis lost this process's gauges meanwhile: the next flush repairs before it writes.
    await redis.client.del(keys.gauges(identity.id));
    expect((await flusher.flush()).ok).toBe(true);
    expect(await total(seriesField('jobs_q', a))).toEqual({ v: 5 });
    expect(await total(seriesField('jobs_q', b))).toEqual({ v: 4 });

    // Counted, not flushed, removed: the flush that carried the last values was applied and its
    // reply lost.
    counter.inc(c, 2);
    counter.inc(d, 6);
    store.plan.push({ call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);
    counter.remove(c);
    counter.remove(d);
    store.plan.push({ call: 'write', failure: 'after' });
    expect((await flusher.flush()).ok).toBe(false);
    await redis.client.del(keys.gauges(identity.id));
    expect((await flusher.flush()).ok).toBe(true);
    expect(await total(seriesField('jobs_q', c))).toEqual({ v: 5 });
    expect(await total(seriesField('jobs_q', d))).toEqual({ v: 6 });
    const own = await redis.client.hgetall(keys.counters(identity.id));
    expect(Object.keys(own).filter((field) => !isMarkerField(field))).toEqual([]);
  });

  it('counts what a series counted since the last flush before reset() replaced it', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_x',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'wait_x',
      help: 'W',
      labelNames: ['queue'],
      buckets: [1],
      registers: [registry],
    });
    const { flusher } = makeFlusher(registry);
    const a = { queue: 'a' };
    counter.inc(a, 3);
    histogram.observe(a, 0.5);
    expect((await flusher.flush()).ok).toBe(true);

    counter.inc(a, 2);
    histogram.observe(a, 2);
    registry.resetMetrics();
    counter.inc(a);
    histogram.observe(a, 0.5);
    expect((await flusher.flush()).ok).toBe(true);

    expect(await total(seriesField('jobs_x', a))).toEqual({ v: 6 });
    expect(await total(seriesField('wait_x', a))).toEqual({ c: 3, s: 3, '1': 2, '+Inf': 3 });
  });

  it('counts what a read showed through a failed flush when its metric is unregistered before the next', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_u',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const flusher = storeFlusher(store, registry);
    const a = { queue: 'a' };
    counter.inc(a, 3);
    expect((await flusher.flush()).ok).toBe(true);

    counter.inc(a, 2);
    store.plan.push({ call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);
    registry.removeSingleMetric('jobs_u');
    expect((await flusher.flush()).ok).toBe(true);

    expect(await total(seriesField('jobs_u', a))).toEqual({ v: 5 });
  });

  it('counts what a metric counted since the last read when it is unregistered', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_v',
      help: 'J',
      labelNames: ['queue'],
      registers: [registry],
    });
    const { flusher } = makeFlusher(registry);
    const a = { queue: 'a' };
    counter.inc(a, 3);
    expect((await flusher.flush()).ok).toBe(true);

    counter.inc(a, 2);
    registry.removeSingleMetric('jobs_v');
    expect((await flusher.flush()).ok).toBe(true);

    expect(await total(seriesField('jobs_v', a))).toEqual({ v: 5 });
  });

  it('runs collect callbacks at most every collectIntervalMs, and whenever a flush asks for them', async () => {
    const registry = new Registry();
    let calls = 0;
    new Gauge({
      name: 'collected_j',
      help: 'C',
      registers: [registry],
      collect() {
        calls += 1;
        this.set(calls);
      },
    });
    const { identity, flusher } = makeFlusher(registry, { collectIntervalMs: 60_000 });

    await flusher.flush();
    await flusher.flush();
    await flusher.flush();
    const afterThree = calls;
    await flusher.flush({ collect: true });

    expect(afterThree).toBe(1);
    expect(calls).toBe(2);
    expect((await gaugeValues(identity))[seriesField('collected_j', {})]).toBe(2);
  });

  it('flushes on its interval and once more at stop, without keeping the process alive', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'ticks_h', help: 'T', registers: [registry] });
    const { flusher } = makeFlusher(registry, { intervalMs: 50 });
    const field = seriesField('ticks_h', {});
    flusher.start();
    counter.inc(2);
    await waitFor(async () => (await total(field))?.v === 2);

    counter.inc(3);
    const last = await flusher.stop();

    expect(last.ok).toBe(true);
    expect(await total(field)).toEqual({ v: 5 });
  });

  it('says that a flush failed once and, at a stop that fails too, what is lost; without the promise of a retry when it was the last', async () => {
    const registry = new Registry();
    new Counter({ name: 'stopping_total', help: 'Stopping', registers: [registry] }).inc();
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), log: () => undefined };
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const flusher = () => storeFlusher(store, registry, { logger });
    const failing = flusher();
    const stopping = flusher();
    store.plan.push(
      ...Array.from({ length: 4 }, () => ({ call: 'write' as const, failure: 'before' as const })),
    );

    // One that fails twice, then at its stop: a line when it started failing, and one at the stop (the
    // first promised a retry, which the stop ends).
    expect((await failing.flush()).ok).toBe(false);
    expect((await failing.flush()).ok).toBe(false);
    expect((await failing.stop()).ok).toBe(false);
    failing.abandon();
    // One whose first failure is its last flush.
    expect((await stopping.stop()).ok).toBe(false);
    stopping.abandon();

    expect(warnings).toEqual([
      `Flushing metrics to Redis under prefix "${prefix}" failed; counting goes on in memory and is retried every 60000 ms: injected: the write never reached Redis`,
      // None of its flushes was written: there is no "last written flush" to count from.
      `Gave up flushing metrics to Redis under prefix "${prefix}" at shutdown (injected: the write never reached Redis): everything this process counted is lost (Redis acknowledged none of its writes).`,
      `Flushing metrics to Redis under prefix "${prefix}" failed while this process stopped flushing, and is not retried: injected: the write never reached Redis`,
    ]);
  });

  it('at a stop that fails after part of a flush was written, does not say that none was', async () => {
    const registry = new Registry();
    for (const name of ['part_a_total', 'part_b_total', 'part_c_total']) {
      new Counter({ name, help: 'Part', registers: [registry] }).inc();
    }
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), log: () => undefined };
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const flusher = storeFlusher(store, registry, { logger, batchWeight: 1 });
    // The first write of the first flush is applied and answered; every write after it fails.
    store.plan.push(
      { call: 'write', failure: 'pass' },
      ...Array.from({ length: 20 }, () => ({ call: 'write' as const, failure: 'before' as const })),
    );

    expect((await flusher.flush()).ok).toBe(false);
    expect((await flusher.stop()).ok).toBe(false);
    flusher.abandon();

    // Part of what it counted is in the totals: what was counted since that write is lost, not all.
    const written = await Promise.all(
      ['part_a_total', 'part_b_total', 'part_c_total'].map((name) => total(seriesField(name, {}))),
    );
    expect(written.filter((value) => value !== undefined)).toEqual([{ v: 1 }]);
    expect(warnings.at(-1)).toBe(
      `Gave up flushing metrics to Redis under prefix "${prefix}" at shutdown (injected: the write never reached Redis): what this process counted since its last written flush is lost.`,
    );
  });

  it("says nothing of a flush that failed as its process stopped when the stop's own flush then wrote", async () => {
    const registry = new Registry();
    new Counter({ name: 'stopped_total', help: 'Stopped', registers: [registry] }).inc();
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), log: () => undefined };
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const flusher = storeFlusher(store, registry, { logger });
    store.plan.push({ call: 'write', failure: 'before' });

    // A flush of the timer's is running when the stop comes; the stop's flush runs after it.
    const running = flusher.flush();
    const last = flusher.stop();

    expect((await running).ok).toBe(false);
    expect((await last).ok).toBe(true);
    // It said the first failure was not retried, though the stop's flush wrote right after.
    expect(warnings).toEqual([]);
    expect(await total(seriesField('stopped_total', {}))).toEqual({ v: 1 });
    await flusher.end();

    // When the stop's flush fails too, that is said once, without the promise of a retry.
    const both = storeFlusher(store, registry, { logger });
    store.plan.push({ call: 'write', failure: 'before' }, { call: 'write', failure: 'before' });
    const runningToo = both.flush();
    expect((await both.stop()).ok).toBe(false);
    expect((await runningToo).ok).toBe(false);
    both.abandon();
    expect(warnings).toEqual([
      `Flushing metrics to Redis under prefix "${prefix}" failed while this process stopped flushing, and is not retried: injected: the write never reached Redis`,
    ]);
  });

  it('says once what became of a stop whose flush failed after the running one worked again', async () => {
    const registry = new Registry();
    const flapping = new Counter({
      name: 'flapping_total',
      help: 'Flapping',
      registers: [registry],
    });
    flapping.inc();
    const warnings: string[] = [];
    const logs: string[] = [];
    const logger = {
      warn: (line: string) => warnings.push(line),
      log: (line: string) => logs.push(line),
    };
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const flusher = storeFlusher(store, registry, { logger });
    store.plan.push({ call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);

    // A flush of the timer's works again as the stop comes; the stop's own flush then fails.
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'before' });
    flapping.inc();
    const running = flusher.flush();
    const last = flusher.stop();
    expect((await running).ok).toBe(true);
    flapping.inc();
    expect((await last).ok).toBe(false);
    flusher.abandon();

    expect(logs).toEqual([`Flushing metrics to Redis under prefix "${prefix}" works again.`]);
    // The stop's failure is told once: the flush before it had written, so no earlier line stands.
    expect(warnings).toEqual([
      `Flushing metrics to Redis under prefix "${prefix}" failed; counting goes on in memory and is retried every 60000 ms: injected: the write never reached Redis`,
      `Flushing metrics to Redis under prefix "${prefix}" failed while this process stopped flushing, and is not retried: injected: the write never reached Redis`,
    ]);
  });

  it('writes 100,000 series in bounded calls', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'wide_i',
      help: 'W',
      labelNames: ['id'],
      registers: [registry],
    });
    for (let i = 0; i < 100_000; i += 1) counter.inc({ id: String(i) }, i + 1);
    const { identity, flusher } = makeFlusher(registry);

    const result = await flusher.flush();

    // A counter weighs 3 and a call at most 1,500: 500 counters a call (the first one less, for the
    // metadata), 201 calls.
    expect(result).toMatchObject({ ok: true, sent: 100_000, calls: 201 });
    expect(await redis.client.hlen(keys.counters(identity.id))).toBe(100_001);
    expect(await total(seriesField('wide_i', { id: '99999' }))).toEqual({ v: 100_000 });
    await redis.client.del(keys.counters(identity.id));
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
