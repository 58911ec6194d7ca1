import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

import {
  MetricsFlusher,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
  snapshotRegistry,
  writeSeries,
  type GaugeMode,
} from '../../src/index.js';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../harness/test-redis.js';

describe('MetricsFlusher against a real Redis', () => {
  let client: Redis;
  const prefix = uniquePrefix('flusher');
  const keys = new PrefixKeys(prefix);

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  function makeFlusher(registry: Registry, gaugeModeOf: (name: string) => GaugeMode = () => 'all') {
    const identity = ProcessIdentity.create();
    const flusher = new MetricsFlusher({
      store: new RedisMetricsStore(client, keys.prefix),
      identity,
      registry,
      intervalMs: 50,
      gaugeModeOf,
    });
    return { identity, flusher };
  }

  async function storedValues(identity: ProcessIdentity): Promise<Record<string, number>> {
    const raw = await client.hgetall(keys.values(identity.id));
    return Object.fromEntries(Object.entries(raw).map(([f, v]) => [f, Number(v.split(' ')[0])]));
  }

  it('writes every series of every metric type, default metrics included, as absolute values', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'orders',
      help: 'Orders',
      labelNames: ['shop'],
      registers: [registry],
    });
    const gauge = new Gauge({ name: 'queue_depth', help: 'Queue depth', registers: [registry] });
    const histogram = new Histogram({
      name: 'latency',
      help: 'Latency',
      buckets: [0.1, 1],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'size',
      help: 'Size',
      percentiles: [0.5],
      registers: [registry],
    });
    collectDefaultMetrics({ register: registry });
    counter.inc({ shop: 'north' }, 2);
    counter.inc({ shop: 'north' });
    gauge.set(17);
    histogram.observe(0.05);
    histogram.observe(0.5);
    histogram.observe(5);
    summary.observe(4);
    const { identity, flusher } = makeFlusher(registry, (name) =>
      name === 'queue_depth' ? 'livesum' : 'max',
    );
    const before = await snapshotRegistry(registry, () => 'all');

    const result = await flusher.flush();

    expect(result.ok).toBe(true);
    const stored = await storedValues(identity);
    expect(stored[seriesField('orders', 'orders', { shop: 'north' })]).toBe(3);
    expect(stored[seriesField('queue_depth', 'queue_depth', {})]).toBe(17);
    expect(stored[seriesField('latency', 'latency_bucket', { le: '0.1' })]).toBe(1);
    expect(stored[seriesField('latency', 'latency_bucket', { le: '1' })]).toBe(2);
    expect(stored[seriesField('latency', 'latency_bucket', { le: '+Inf' })]).toBe(3);
    expect(stored[seriesField('latency', 'latency_sum', {})]).toBe(5.55);
    expect(stored[seriesField('latency', 'latency_count', {})]).toBe(3);
    expect(stored[seriesField('size', 'size', { quantile: '0.5' })]).toBe(4);
    expect(stored[seriesField('size', 'size_sum', {})]).toBe(4);
    expect(stored[seriesField('size', 'size_count', {})]).toBe(1);
    expect(
      stored[seriesField('process_cpu_user_seconds_total', 'process_cpu_user_seconds_total', {})],
    ).toBeGreaterThan(0);

    // Everything the registry holds and nothing else. Default metrics may gain or lose a series
    // while the flush runs (a GC, a handle closing): what was there before and after must be stored,
    // and nothing that was in neither.
    const after = await snapshotRegistry(registry, () => 'all');
    const storedFields = Object.keys(stored);
    const steady = [...before.series.keys()].filter((f) => after.series.has(f));
    expect(steady.filter((f) => !(f in stored))).toEqual([]);
    expect(storedFields.filter((f) => !before.series.has(f) && !after.series.has(f))).toEqual([]);
    expect(result.sent).toBe(storedFields.length);

    expect(JSON.parse((await client.hget(keys.metadata, 'queue_depth'))!)).toEqual({
      type: 'gauge',
      help: 'Queue depth',
      mode: 'livesum',
    });
    expect(JSON.parse((await client.hget(keys.metadata, 'orders'))!)).toEqual({
      type: 'counter',
      help: 'Orders',
    });
    expect(JSON.parse((await client.hget(keys.metadata, 'latency'))!)).toEqual({
      type: 'histogram',
      help: 'Latency',
    });
  });

  it('sends only what changed since the last flush', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'hits',
      help: 'Hits',
      labelNames: ['page'],
      registers: [registry],
    });
    counter.inc({ page: 'a' });
    counter.inc({ page: 'b' });
    const { identity, flusher } = makeFlusher(registry);
    expect((await flusher.flush()).sent).toBe(2);

    counter.inc({ page: 'b' }, 4);
    const second = await flusher.flush();

    expect(second).toMatchObject({ ok: true, sent: 1, written: 1, removed: 0 });
    expect(await storedValues(identity)).toEqual({
      [seriesField('hits', 'hits', { page: 'a' })]: 1,
      [seriesField('hits', 'hits', { page: 'b' })]: 5,
    });
  });

  it('replaying the same write leaves stored values and timestamps unchanged', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'replayed', help: 'R', registers: [registry] });
    counter.inc(9);
    const { identity, flusher } = makeFlusher(registry);
    await flusher.flush();
    const before = await client.hgetall(keys.values(identity.id));

    const write = { series: [[seriesField('replayed', 'replayed', {}), 9]] as [string, number][] };
    const first = await writeSeries(client, keys, identity, write);
    const second = await writeSeries(client, keys, identity, write);
    flusher.resync();
    const resynced = await flusher.flush();

    expect([first.written, second.written]).toEqual([0, 0]);
    expect(resynced).toMatchObject({ ok: true, sent: 1, written: 0 });
    expect(await client.hgetall(keys.values(identity.id))).toEqual(before);
  });

  it('removes a gauge series that the registry dropped, and keeps counters', async () => {
    const registry = new Registry();
    const gauge = new Gauge({
      name: 'conns',
      help: 'C',
      labelNames: ['db'],
      registers: [registry],
    });
    const counter = new Counter({
      name: 'queries',
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
    const result = await flusher.flush();

    expect(result).toMatchObject({ ok: true, sent: 0, removed: 1 });
    expect(await storedValues(identity)).toEqual({
      [seriesField('conns', 'conns', { db: 'b' })]: 2,
      [seriesField('queries', 'queries', { db: 'a' })]: 1,
    });
  });

  it('flushes on its interval and once more at stop, without keeping the process alive', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'ticks', help: 'T', registers: [registry] });
    const { identity, flusher } = makeFlusher(registry);
    const field = seriesField('ticks', 'ticks', {});
    flusher.start();
    counter.inc(2);
    await waitFor(async () => (await storedValues(identity))[field] === 2);

    counter.inc(3);
    const last = await flusher.stop();

    expect(last.ok).toBe(true);
    expect((await storedValues(identity))[field]).toBe(5);
  });

  it('writes 100,000 series in one flush', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'wide',
      help: 'W',
      labelNames: ['id'],
      registers: [registry],
    });
    for (let i = 0; i < 100_000; i += 1) counter.inc({ id: String(i) }, i);
    const { identity, flusher } = makeFlusher(registry);

    const result = await flusher.flush();

    expect(result).toMatchObject({ ok: true, sent: 100_000, written: 100_000 });
    expect(await client.hlen(keys.values(identity.id))).toBe(100_000);
    expect(
      Number(
        (await client.hget(
          keys.values(identity.id),
          seriesField('wide', 'wide', { id: '99999' }),
        ))!.split(' ')[0],
      ),
    ).toBe(99999);
    await client.del(keys.values(identity.id));
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
