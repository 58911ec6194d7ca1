import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';

import { seriesField, snapshotRegistry, type GaugeMode } from '../../src/index.js';
import { RegistryReader } from '../../src/storage/registry-reader.js';

/**
 * The reader's view after one read, the fields it touched (`all` when it listed a metric anew), and
 * the reference snapshot right after. Checks that every field whose value the read changed is among
 * the touched ones: what the flusher relies on to send only those.
 */
async function readBoth(reader: RegistryReader, registry: Registry, modeOf = allMode) {
  const before = { gauges: new Map(reader.view.gauges), counters: new Map(reader.view.counters) };
  const touched = new Set<string>();
  const all = await reader.read(touched);
  // Counter-like series that changed are listed in the ledger; the flusher settles it after a write.
  for (const series of reader.view.counters.changed) touched.add(series.field);
  reader.view.counters.settle();
  const changed = [
    ...differing(before.gauges, reader.view.gauges),
    ...differing(before.counters, new Map(reader.view.counters)),
  ];
  if (!all) expect(changed.filter((field) => !touched.has(field))).toEqual([]);
  const reference = await snapshotRegistry(registry, modeOf);
  return { view: reader.view, touched: all ? 'all' : touched, reference };
}

function differing<V>(before: Map<string, V>, after: Map<string, V>): string[] {
  const fields = new Set([...before.keys(), ...after.keys()]);
  return [...fields].filter(
    (field) =>
      before.has(field) !== after.has(field) || !Object.is(before.get(field), after.get(field)),
  );
}

const allMode = (): GaugeMode => 'all';

/** Reads, checks the view equals the reference exactly, and returns the touched fields, sorted. */
async function expectSameAsReference(
  reader: RegistryReader,
  registry: Registry,
  modeOf = allMode,
): Promise<string[] | 'all'> {
  const { view, touched, reference } = await readBoth(reader, registry, modeOf);
  expect(view.metadata).toEqual(reference.metadata);
  expect(view.gauges).toEqual(reference.gauges);
  expect(new Map(view.counters)).toEqual(reference.counters);
  // Also counted: a ledger showing one field twice reads as a map with it once.
  expect(view.counters.size).toBe(reference.counters.size);
  return touched === 'all' ? touched : [...touched].sort();
}

describe('RegistryReader (the fast path) against snapshotRegistry (getMetricsAsJSON, the reference)', () => {
  it('reads counters, gauges, histograms and summaries, and touches only what changed', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'orders_total',
      help: 'Orders',
      labelNames: ['shop', 'code'],
      registers: [registry],
    });
    const plain = new Counter({ name: 'plain_total', help: 'Unlabelled', registers: [registry] });
    const gauge = new Gauge({
      name: 'depth',
      help: 'Depth',
      labelNames: ['queue'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'latency_seconds',
      help: 'Latency',
      labelNames: ['route'],
      buckets: [0, 0.1, 1, Infinity],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'size_bytes',
      help: 'Size',
      labelNames: ['kind'],
      percentiles: [0.5, 0.9],
      registers: [registry],
    });
    counter.inc({ shop: 'north', code: 200 }, 2);
    counter.inc({ shop: 'say "hi"\n\\', code: 500 });
    counter.inc({ shop: 'south' }); // code left out
    gauge.set({ queue: 'a' }, 7);
    gauge.set({ queue: 'b' }, NaN);
    gauge.set({ queue: 'c' }, -Infinity);
    histogram.observe({ route: '/x' }, 0.05);
    histogram.observe({ route: '/x' }, 5);
    histogram.observe({ route: '/y' }, 0);
    summary.observe({ kind: 'img' }, 3);
    summary.observe({ kind: 'img' }, 4.5);

    const reader = new RegistryReader(registry, allMode);
    expect(await expectSameAsReference(reader, registry)).toHaveLength(10);
    expect(reader.view.counters.get(seriesField('latency_seconds', { route: '/x' }))).toBe(
      'c 2 s 5.05 0 0 0.1 1 1 1 Infinity 2 +Inf 2',
    );
    expect(reader.view.counters.get(seriesField('size_bytes', { kind: 'img' }))).toBe('c 2 s 7.5');

    expect(await expectSameAsReference(reader, registry)).toEqual([]);

    counter.inc({ shop: 'north', code: 200 });
    plain.inc(0); // no change in value
    gauge.set({ queue: 'a' }, 7); // set to the same value: not a change for an `all` gauge
    gauge.inc({ queue: 'c' }); // -Infinity + 1 is still -Infinity
    gauge.set({ queue: 'b' }, NaN);
    histogram.observe({ route: '/y' }, 0.5);
    summary.observe({ kind: 'doc' }, 1);
    expect(await expectSameAsReference(reader, registry)).toEqual(
      [
        seriesField('orders_total', { code: '200', shop: 'north' }),
        seriesField('latency_seconds', { route: '/y' }),
        seriesField('size_bytes', { kind: 'doc' }),
      ].sort(),
    );
  });

  it('marks every field as possibly changed when it lists a large metric anew, then only what changed', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'many_total',
      help: 'Many series',
      labelNames: ['n'],
      registers: [registry],
    });
    for (let n = 0; n < 3000; n += 1) counter.inc({ n: String(n) }, n);
    const reader = new RegistryReader(registry, allMode);
    expect(await expectSameAsReference(reader, registry)).toBe('all');
    expect(reader.view.counters.size).toBe(3000);
    counter.inc({ n: '7' });
    counter.inc({ n: '3000' });
    expect(await expectSameAsReference(reader, registry)).toEqual(
      [seriesField('many_total', { n: '3000' }), seriesField('many_total', { n: '7' })].sort(),
    );
    expect(reader.view.counters.get(seriesField('many_total', { n: '7' }))).toBe('v 8');
    counter.reset();
    expect(await expectSameAsReference(reader, registry)).toBe('all');
    expect(reader.view.counters.size).toBe(0);
  });

  it('follows removed series, reset metrics, zeroed histograms and metrics leaving or joining the registry', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_total',
      help: 'Jobs',
      labelNames: ['queue'],
      registers: [registry],
    });
    const gauge = new Gauge({ name: 'temp', help: 'Temp', registers: [registry] });
    const histogram = new Histogram({
      name: 'wait_seconds',
      help: 'Wait',
      labelNames: ['queue'],
      buckets: [1, 2],
      registers: [registry],
    });
    const summary = new Summary({ name: 'rtt', help: 'RTT', registers: [registry] });
    counter.inc({ queue: 'a' });
    counter.inc({ queue: 'b' }, 3);
    gauge.set(21);
    histogram.observe({ queue: 'a' }, 1.5);
    summary.observe(2);
    const reader = new RegistryReader(registry, allMode);
    await expectSameAsReference(reader, registry);

    counter.remove({ queue: 'a' });
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('jobs_total', { queue: 'a' }),
    ]);

    // Removed and back before the next read: counted from zero again.
    counter.remove({ queue: 'b' });
    counter.inc({ queue: 'b' });
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('jobs_total', { queue: 'b' }),
    ]);

    histogram.zero({ queue: 'a' });
    histogram.zero({ queue: 'c' });
    expect(await expectSameAsReference(reader, registry)).toEqual(
      [
        seriesField('wait_seconds', { queue: 'a' }),
        seriesField('wait_seconds', { queue: 'c' }),
      ].sort(),
    );

    counter.reset();
    gauge.reset();
    summary.reset();
    await expectSameAsReference(reader, registry);
    registry.resetMetrics();
    await expectSameAsReference(reader, registry);
    counter.inc({ queue: 'z' }, 4);
    await expectSameAsReference(reader, registry);

    registry.removeSingleMetric('temp');
    const later = new Counter({
      name: 'late_total',
      help: 'Made after start-up',
      labelNames: ['x'],
      registers: [registry],
    });
    later.inc({ x: '1' });
    expect(await expectSameAsReference(reader, registry)).toEqual(
      [seriesField('temp', {}), seriesField('late_total', { x: '1' })].sort(),
    );
    // The same name again, as another object.
    const again = new Gauge({ name: 'temp', help: 'Temp again', registers: [registry] });
    again.set(3);
    await expectSameAsReference(reader, registry);
    registry.clear();
    await expectSameAsReference(reader, registry);
    expect(reader.view.counters.size + reader.view.gauges.size).toBe(0);
  });

  it('flushes the labels a labels object shows after it was changed, as prom-client exposes them', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'visits_total',
      help: 'Visits',
      labelNames: ['page'],
      registers: [registry],
    });
    const gauge = new Gauge({
      name: 'open',
      help: 'Open',
      labelNames: ['page'],
      registers: [registry],
    });
    const reader = new RegistryReader(registry, allMode);

    // Changed after inc() and before any read: prom-client shows the changed labels.
    const labels: Record<string, string> = { page: 'home' };
    counter.inc(labels);
    labels.page = 'about';
    await expectSameAsReference(reader, registry);
    expect([...reader.view.counters.keys()]).toEqual([
      seriesField('visits_total', { page: 'about' }),
    ]);

    // Changed after a read: neither prom-client nor the flush sees it any more (the series was given a
    // copy of its own labels, as getMetricsAsJSON does with default labels).
    labels.page = 'contact';
    await expectSameAsReference(reader, registry);
    expect([...reader.view.counters.keys()]).toEqual([
      seriesField('visits_total', { page: 'about' }),
    ]);

    // One object reused for two series, changed in between: prom-client shows two samples with the
    // same labels; the reference keeps the last one, and so does the reader (through get()).
    const shared: Record<string, string> = { page: 'a' };
    gauge.set(shared, 1);
    shared.page = 'b';
    gauge.set(shared, 2);
    await expectSameAsReference(reader, registry);
    expect(reader.view.gauges.get(seriesField('open', { page: 'b' }))).toBe(2);
    gauge.set({ page: 'c' }, 3);
    await expectSameAsReference(reader, registry);

    // A key the labels object gained after inc(): shown by prom-client, so flushed.
    const grown: Record<string, string> = { page: 'x' };
    counter.inc(grown);
    grown.extra = 'y';
    await expectSameAsReference(reader, registry);
  });

  it('sees two series on one field in a later read and in a first one, whether a changed labels object or a default label made them one', async () => {
    // A later series whose labels object changed into an earlier series' labels before the read.
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'shop' });
    const visits = new Counter({
      name: 'visits_total',
      help: 'Visits',
      labelNames: ['page'],
      registers: [registry],
    });
    const reader = new RegistryReader(registry, allMode);
    visits.inc({ page: 'about' }, 5);
    await expectSameAsReference(reader, registry);
    const labels = { page: 'home' };
    visits.inc(labels, 1);
    labels.page = 'about';
    await expectSameAsReference(reader, registry);
    const about = seriesField('visits_total', { app: 'shop', page: 'about' });
    expect(reader.view.counters.get(about)).toBe('v 6');
    visits.inc({ page: 'about' }, 10);
    await expectSameAsReference(reader, registry);

    // A default for one of the metric's own labels stands for a falsy value: two samples, one field.
    const withDefaults = new Registry();
    withDefaults.setDefaultLabels({ app: 'shop' });
    const hits = new Counter({
      name: 'hits_total',
      help: 'Hits',
      labelNames: ['app', 'path'],
      registers: [withDefaults],
    });
    hits.inc({ app: '', path: '/' }, 2);
    hits.inc({ app: 'shop', path: '/' }, 3);
    const defaultsReader = new RegistryReader(withDefaults, allMode);
    await expectSameAsReference(defaultsReader, withDefaults);
    const shop = seriesField('hits_total', { app: 'shop', path: '/' });
    expect(defaultsReader.view.counters.get(shop)).toBe('v 5');
  });

  it('merges default labels as getMetricsAsJSON does, and follows them when they change', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'shop', zone: '' });
    const counter = new Counter({
      name: 'hits_total',
      help: 'Hits',
      labelNames: ['app', 'path'],
      registers: [registry],
    });
    const histogram = new Histogram({
      name: 'dur',
      help: 'Duration',
      labelNames: ['path'],
      buckets: [0, 1],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'payload',
      help: 'Payload',
      percentiles: [0.5],
      registers: [registry],
    });
    counter.inc({ app: 'admin', path: '/' });
    counter.inc({ app: '', path: '/empty' }); // a falsy value gives way to the default
    histogram.observe({ path: '/' }, 0);
    summary.observe(10);
    const reader = new RegistryReader(registry, allMode);
    await expectSameAsReference(reader, registry);
    expect(
      reader.view.counters.has(
        seriesField('hits_total', { app: 'shop', path: '/empty', zone: '' }),
      ),
    ).toBe(true);

    registry.setDefaultLabels({ app: 'shop', pid: 7 });
    // getMetricsAsJSON (the reference, read after every read here) writes the default labels of the
    // time into each counter's and gauge's labels, where they stay: zone '' is one of them now.
    expect(await expectSameAsReference(reader, registry)).toContain(
      seriesField('hits_total', { app: 'admin', path: '/', pid: '7', zone: '' }),
    );
    expect(await expectSameAsReference(reader, registry)).toEqual([]);

    // Two series that default labels make one: the reference adds their counts; so does the reader.
    registry.setDefaultLabels({ app: 'x' });
    counter.inc({ app: 'x', path: '/' }, 5);
    await expectSameAsReference(reader, registry);

    registry.setDefaultLabels({});
    await expectSameAsReference(reader, registry);
  });

  it("reads prom-client's default metrics and runs collect callbacks as get() does", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, labels: { worker: '1' } });
    let collected = 0;
    new Gauge({
      name: 'collected',
      help: 'Set by its collect callback',
      registers: [registry],
      collect() {
        collected += 1;
        this.set(42);
      },
    });
    new Gauge({
      name: 'collected_async',
      help: 'Set by an async collect callback',
      labelNames: ['k'],
      registers: [registry],
      async collect() {
        await new Promise((resolve) => setImmediate(resolve));
        this.set({ k: 'v' }, 43);
      },
    });
    const reader = new RegistryReader(registry, allMode);
    // The event loop lag gauge is set by a callback its collect schedules: read once before comparing.
    await reader.read(new Set());
    const { view, reference } = await readBoth(reader, registry);
    expect(collected).toBe(3);
    // Default metrics move on their own between two reads (CPU, memory, event loop): the same series
    // and metadata, and the same values where they cannot move.
    // Handles and resources (sockets, timers) may come and go between the two reads, and a garbage
    // collection of a new kind adds a series to the GC histogram.
    const lasting = (fields: Iterable<string>) =>
      new Set(
        [...fields].filter(
          (field) =>
            !field.startsWith('["nodejs_active_') && !field.startsWith('["nodejs_gc_duration'),
        ),
      );
    expect(view.metadata).toEqual(reference.metadata);
    expect(lasting(view.counters.keys())).toEqual(lasting(reference.counters.keys()));
    expect(lasting(view.gauges.keys())).toEqual(lasting(reference.gauges.keys()));
    const steady = [
      seriesField('collected', {}),
      seriesField('collected_async', { k: 'v' }),
      seriesField('process_start_time_seconds', { worker: '1' }),
    ];
    for (const field of steady) expect(view.gauges.get(field)).toBe(reference.gauges.get(field));
    expect(view.gauges.get(seriesField('collected_async', { k: 'v' }))).toBe(43);
  });

  it('reads metric objects it does not know through their own get()', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ host: 'h1' });
    // A subclass with its own get(), and an object that is no prom-client class at all.
    class Doubling extends Counter<'k'> {
      override async get(): Promise<MetricObjectWithValues<MetricValue<'k'>>> {
        const data = await super.get();
        return { ...data, values: data.values.map((v) => ({ ...v, value: v.value * 2 })) };
      }
    }
    const doubling = new Doubling({
      name: 'doubled_total',
      help: 'Doubled',
      labelNames: ['k'],
      registers: [registry],
    });
    let value = 1;
    const custom = {
      name: 'custom_gauge',
      help: 'Custom',
      type: 'gauge',
      aggregator: 'sum',
      get: async () => ({
        name: 'custom_gauge',
        help: 'Custom',
        type: 'gauge',
        aggregator: 'sum',
        values: [{ labels: { a: 'b' }, value }],
      }),
      reset: () => undefined,
    };
    registry.registerMetric(custom as unknown as Metric);
    doubling.inc({ k: 'x' }, 2);
    const reader = new RegistryReader(registry, allMode);
    await expectSameAsReference(reader, registry);
    expect(reader.view.counters.get(seriesField('doubled_total', { host: 'h1', k: 'x' }))).toBe(
      'v 4',
    );
    expect(await expectSameAsReference(reader, registry)).toEqual([]);
    value = 2;
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('custom_gauge', { a: 'b', host: 'h1' }),
    ]);
    registry.removeSingleMetric('custom_gauge');
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('custom_gauge', { a: 'b', host: 'h1' }),
    ]);
  });

  it('stays equal to the reference over many random operations on varied registries', async () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    for (let round = 0; round < 8; round += 1) {
      const registry = new Registry();
      const values = ['a', 'b', 'c', '', 'd"e', 'f\\g'];
      const counter = new Counter({
        name: `r${round}_c`,
        help: 'c',
        labelNames: ['x', 'y'],
        registers: [registry],
      });
      const gauge = new Gauge({
        name: `r${round}_g`,
        help: 'g',
        labelNames: ['x'],
        registers: [registry],
      });
      const histogram = new Histogram({
        name: `r${round}_h`,
        help: 'h',
        labelNames: ['x'],
        buckets: [0.5, 1, 2],
        registers: [registry],
      });
      const summary = new Summary({
        name: `r${round}_s`,
        help: 's',
        labelNames: ['y'],
        percentiles: [0.5],
        registers: [registry],
      });
      const reader = new RegistryReader(registry, allMode);
      for (let step = 0; step < 60; step += 1) {
        const operations = 1 + Math.floor(random() * 6);
        for (let i = 0; i < operations; i += 1) {
          const x = pick(values);
          const y = pick(values);
          switch (Math.floor(random() * 13)) {
            case 0:
            case 1:
              counter.inc({ x, y }, Math.floor(random() * 3));
              break;
            case 2:
              gauge.set({ x }, Math.floor(random() * 4));
              break;
            case 3:
              gauge.inc({ x });
              break;
            case 4:
              histogram.observe({ x }, random() * 3);
              break;
            case 5:
              summary.observe({ y }, random());
              break;
            case 6:
              counter.remove({ x, y });
              break;
            case 7:
              gauge.remove({ x });
              break;
            case 8:
              histogram.zero({ x });
              break;
            case 9:
              registry.setDefaultLabels(random() < 0.5 ? {} : { x: pick(values), z: pick(values) });
              break;
            case 10:
              pick([counter, gauge, histogram, summary] as { reset(): void }[]).reset();
              break;
            case 11: {
              // A labels object changed after the call that took it.
              const labels: Record<string, string> = { x, y };
              counter.inc(labels);
              labels.x = pick(values);
              break;
            }
            default:
              counter.inc({ x }, 1);
          }
        }
        // Not after every step: the reference's own reads must not be what keeps the reader right.
        if (random() < 0.4) await expectSameAsReference(reader, registry);
        else await reader.read(new Set());
      }
      await expectSameAsReference(reader, registry);
    }
  });

  it('reads a large new metric in turns that let the event loop run, and the next read sees what changed in between', async () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'requests_total',
      help: 'h',
      labelNames: ['id'],
      registers: [registry],
    });
    // Three turns of SERIES_PER_TURN (8192) new series.
    const seriesCount = 20_000;
    for (let i = 0; i < seriesCount; i += 1) requests.inc({ id: String(i) }, (i % 7) + 1);
    const reader = new RegistryReader(registry, allMode);

    const order: string[] = [];
    // Runs only once the event loop gets a turn: before the read ends if the read lets it.
    setImmediate(() => {
      order.push('event loop');
      requests.inc({ id: '19999' }, 100);
      requests.remove({ id: '0' });
      requests.inc({ id: 'late' }, 3);
    });
    await reader.read(new Set());
    order.push('read');
    expect(order).toEqual(['event loop', 'read']);
    // The first read shows every series, each with its number as the read found it.
    expect(reader.view.counters.size).toBe(seriesCount);
    expect(reader.view.counters.get(seriesField('requests_total', { id: '0' }))).toBe('v 1');
    expect(reader.view.counters.get(seriesField('requests_total', { id: '19999' }))).toBe('v 101');
    reader.view.counters.settle();

    // The next read sees the removal and the late series, and equals the reference.
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('requests_total', { id: '0' }),
      seriesField('requests_total', { id: 'late' }),
    ]);
    expect(reader.view.counters.size).toBe(seriesCount);
    expect(reader.view.counters.has(seriesField('requests_total', { id: '0' }))).toBe(false);
  });

  it('writes a large number of changed series in turns that let the event loop run, each series as its turn found it', async () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'requests_total',
      help: 'h',
      labelNames: ['id'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'latency_seconds',
      help: 'h',
      labelNames: ['id'],
      buckets: [1],
      registers: [registry],
    });
    // The counter's changes take three turns of SERIES_PER_TURN (8192), the histogram's two.
    const seriesCount = 20_000;
    const histogramCount = 9_000;
    const reader = new RegistryReader(registry, allMode);
    for (let i = 0; i < seriesCount; i += 1) requests.inc({ id: String(i) });
    for (let i = 0; i < histogramCount; i += 1) latency.observe({ id: String(i) }, 0.5);
    await expectSameAsReference(reader, registry);

    // A read with no new series: every number changed, none needs its field built.
    for (let i = 0; i < seriesCount; i += 1) requests.inc({ id: String(i) });
    for (let i = 0; i < histogramCount; i += 1) latency.observe({ id: String(i) }, 2);
    const order: string[] = [];
    setImmediate(() => {
      order.push('event loop');
      // Compared in the first turn (seen by the next read) and in a later one (seen by this read).
      requests.inc({ id: '0' }, 100);
      requests.inc({ id: '19999' }, 100);
      latency.observe({ id: '8999' }, 0.5);
    });
    await reader.read(new Set());
    order.push('read');
    expect(order).toEqual(['event loop', 'read']);
    expect(reader.view.counters.changed.length).toBe(seriesCount + histogramCount);
    expect(reader.view.counters.get(seriesField('requests_total', { id: '0' }))).toBe('v 2');
    expect(reader.view.counters.get(seriesField('requests_total', { id: '19999' }))).toBe('v 102');
    expect(reader.view.counters.get(seriesField('latency_seconds', { id: '8999' }))).toBe(
      'c 3 s 3 1 2 +Inf 3',
    );
    reader.view.counters.settle();

    // The next read sees the one change a turn had compared before it happened.
    expect(await expectSameAsReference(reader, registry)).toEqual([
      seriesField('requests_total', { id: '0' }),
    ]);
    expect(reader.view.counters.get(seriesField('requests_total', { id: '0' }))).toBe('v 102');
  });

  it('reads a large mostrecent gauge in one turn, so a value is never paired with the time of a later set()', async () => {
    const registry = new Registry();
    const temperature = new Gauge({
      name: 'temperature',
      help: 'h',
      labelNames: ['id'],
      registers: [registry],
    });
    const mostRecent = (): GaugeMode => 'mostrecent';
    const reader = new RegistryReader(registry, mostRecent);
    for (let i = 0; i < 9_000; i += 1) temperature.set({ id: String(i) }, 1);
    const field = seriesField('temperature', { id: '0' });

    let setAgainAt = 0;
    setImmediate(() => {
      setAgainAt = performance.now();
      temperature.set({ id: '0' }, 2);
    });
    await reader.read(new Set());
    const shown = {
      value: reader.view.gauges.get(field),
      setAt: reader.view.gaugeTimes.get(field)!,
    };
    await new Promise((resolve) => setImmediate(resolve));
    // Wherever the second set() fell, the value shown and its time are those of the first set().
    expect(setAgainAt).toBeGreaterThan(0);
    expect(shown.value).toBe(1);
    expect(shown.setAt).toBeLessThan(setAgainAt);

    await reader.read(new Set());
    expect(reader.view.gauges.get(field)).toBe(2);
    expect(reader.view.gaugeTimes.get(field)!).toBeGreaterThanOrEqual(setAgainAt);
  });
});
