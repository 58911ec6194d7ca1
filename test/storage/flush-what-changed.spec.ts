import { Redis } from 'ioredis';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  Summary,
  type OpenMetricsContentType,
} from 'prom-client';

import {
  decodeWindowDigest,
  isMarkerField,
  isWindowDigest,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
  snapshotRegistry,
  type MetricsFlusherOptions,
} from '../../src/index.js';
import { FailingStore, type Failure } from '../harness/failing-store.js';
import { startTcpProxy } from '../harness/tcp-proxy.js';
import { testFlusher } from '../harness/test-flusher.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';

/**
 * The flush reads only what changed (registry-reader.ts) and still stores exactly what
 * `registry.getMetricsAsJSON()` shows: checked here in Redis, against `snapshotRegistry`.
 */
describe('a flush stores exactly what prom-client shows, reading only what changed', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('what-changed');
  const keys = new PrefixKeys(prefix);

  function makeFlusher(
    registry: MetricsFlusherOptions['registry'],
    options: Partial<MetricsFlusherOptions> = {},
  ) {
    const identity = ProcessIdentity.create();
    const flusher = testFlusher(redis.client, prefix, registry, { identity, ...options });
    return { identity, flusher };
  }

  /** A process's own hashes in Redis, without the markers. */
  async function stored(identity: ProcessIdentity) {
    const strip = (hash: Record<string, string>) =>
      Object.fromEntries(Object.entries(hash).filter(([field]) => !isMarkerField(field)));
    const gauges = strip(await redis.client.hgetall(keys.gauges(identity.id)));
    return {
      counters: strip(await redis.client.hgetall(keys.counters(identity.id))),
      gauges: Object.fromEntries(
        Object.entries(gauges)
          .filter(([, text]) => !isWindowDigest(text))
          .map(([field, text]) => [field, Number(text.split(' ')[0])]),
      ),
    };
  }

  /** The summary windows of a process: field -> the observations they stand for. */
  async function storedWindows(identity: ProcessIdentity) {
    const gauges = await redis.client.hgetall(keys.gauges(identity.id));
    return Object.fromEntries(
      Object.entries(gauges)
        .filter(([, text]) => isWindowDigest(text))
        .map(([field, text]) => [
          field,
          decodeWindowDigest(text)!.centroids.reduce((n, c) => n + c.weight, 0),
        ]),
    );
  }

  /**
   * The windows the reference implies: a summary without maxAgeSeconds holds every observation since
   * its last reset in its window, so each summary series with a count has a window of that count.
   */
  async function expectedWindows(registry: Registry) {
    const reference = await snapshotRegistry(registry, () => 'all');
    return Object.fromEntries(
      [...reference.counters]
        .map(([field, packed]) => [field, packed.split(' ')] as const)
        .filter(([, slots]) => slots.length === 4 && slots[0] === 'c' && Number(slots[1]) > 0)
        .map(([field, slots]) => [field, Number(slots[1])]),
    );
  }

  /** What the reference says the process's hashes must hold. */
  async function expected(registry: Registry) {
    const reference = await snapshotRegistry(registry, () => 'all');
    return {
      counters: Object.fromEntries(reference.counters),
      gauges: Object.fromEntries(reference.gauges),
    };
  }

  it('a labels object changed after inc() flushes the labels prom-client shows', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'pages_total',
      help: 'Pages',
      labelNames: ['page'],
      registers: [registry],
    });
    const { identity, flusher } = makeFlusher(registry);
    const labels = { page: 'home' };
    counter.inc(labels, 2);
    labels.page = 'about';
    expect((await flusher.flush()).ok).toBe(true);
    expect(await stored(identity)).toEqual({
      counters: { [seriesField('pages_total', { page: 'about' })]: 'v 2' },
      gauges: {},
    });
    expect(await stored(identity)).toEqual(await expected(registry));
    expect(
      await redis.client.hget(keys.totals, seriesField('pages_total', { page: 'about' })),
    ).toBe('v 2');

    // Changed after the flush: prom-client kept its own copy, so neither it nor Redis changes.
    labels.page = 'contact';
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 0 });
    expect(await stored(identity)).toEqual(await expected(registry));

    // prom-client still keeps that series under the key of 'home'; inc({ page: 'about' }) makes a
    // second series showing the same labels. getMetricsAsJSON shows both samples and the reference
    // adds them, as AggregatorRegistry does: so does the flush.
    counter.inc({ page: 'about' });
    expect((await flusher.flush()).ok).toBe(true);
    expect(await stored(identity)).toEqual({
      counters: { [seriesField('pages_total', { page: 'about' })]: 'v 3' },
      gauges: {},
    });
    expect(await stored(identity)).toEqual(await expected(registry));
  });

  it("keeps a counter's series when prom-client's OpenMetrics metrics() strips _total from its name, and counts it once", async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const orders = new Counter({ name: 'renamed_total', help: 'Orders', registers: [registry] });
    const { identity, flusher } = makeFlusher(registry);
    orders.inc();
    expect((await flusher.flush()).ok).toBe(true);
    await registry.metrics();
    // What prom-client does to the Counter object itself, for good.
    expect((orders as unknown as { name: string }).name).toBe('renamed');
    orders.inc();
    expect((await flusher.flush()).ok).toBe(true);
    const field = seriesField('renamed_total', {});
    expect(await stored(identity)).toEqual({ counters: { [field]: 'v 2' }, gauges: {} });
    const totals = await redis.client.hmget(keys.totals, field, seriesField('renamed', {}));
    expect(totals).toEqual(['v 2', null]);
  });

  it('flushes metrics added after start-up, plain new Counter() and friends included', async () => {
    const registry = new Registry();
    const { identity, flusher } = makeFlusher(registry);
    expect((await flusher.flush()).ok).toBe(true);
    const late = new Counter({ name: 'late_total', help: 'Late', registers: [registry] });
    const lateGauge = new Gauge({
      name: 'late_gauge',
      help: 'Late',
      labelNames: ['k'],
      registers: [registry],
    });
    const lateHistogram = new Histogram({
      name: 'late_seconds',
      help: 'Late',
      buckets: [1],
      registers: [registry],
    });
    late.inc(3);
    lateGauge.set({ k: 'v' }, 4);
    lateHistogram.observe(0.5);
    const result = await flusher.flush();
    expect(result).toMatchObject({ ok: true, sent: 3 });
    expect(await stored(identity)).toEqual({
      counters: {
        [seriesField('late_total', {})]: 'v 3',
        [seriesField('late_seconds', {})]: 'c 1 s 0.5 1 1 +Inf 1',
      },
      gauges: { [seriesField('late_gauge', { k: 'v' })]: 4 },
    });
  });

  /**
   * Random counter, gauge, histogram and summary operations, a flush after each step, and what Redis
   * holds of the process checked against the reference after every flush that succeeded. `failure`
   * makes the writes of some steps fail (before reaching Redis, or applied with their reply lost): what
   * changed meanwhile must still arrive, exactly once.
   */
  async function randomOperations(failure?: (step: number) => Failure | undefined) {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const registry = new Registry();
    const values = ['a', 'b', '', 'c"d'];
    const counter = new Counter({
      name: 'rnd_c',
      help: 'c',
      labelNames: ['x', 'y'],
      registers: [registry],
    });
    const gauge = new Gauge({ name: 'rnd_g', help: 'g', labelNames: ['x'], registers: [registry] });
    const histogram = new Histogram({
      name: 'rnd_h',
      help: 'h',
      labelNames: ['x'],
      buckets: [0.5, 2],
      registers: [registry],
    });
    const summary = new Summary({
      name: 'rnd_s',
      help: 's',
      labelNames: ['y'],
      percentiles: [0.5],
      registers: [registry],
    });
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const { identity, flusher } = makeFlusher(registry, { store });
    let failed = 0;
    for (let step = 0; step < 40; step += 1) {
      for (let i = 0; i < 1 + Math.floor(random() * 5); i += 1) {
        const x = pick(values);
        const y = pick(values);
        switch (Math.floor(random() * 10)) {
          case 0:
          case 1:
            counter.inc({ x, y }, Math.floor(random() * 3));
            break;
          case 2:
            gauge.set({ x }, Math.floor(random() * 5) - 2);
            break;
          case 3:
            histogram.observe({ x }, random() * 3);
            break;
          case 4:
            summary.observe({ y }, Math.floor(random() * 8));
            break;
          case 5:
            counter.remove({ x, y });
            break;
          case 6:
            gauge.remove({ x });
            break;
          case 7:
            registry.setDefaultLabels(random() < 0.5 ? {} : { z: pick(values) });
            break;
          case 8:
            pick([counter, gauge, histogram, summary] as { reset(): void }[]).reset();
            break;
          default: {
            const labels = { x, y };
            counter.inc(labels);
            labels.x = pick(values);
          }
        }
      }
      const injected = failure?.(step);
      if (injected !== undefined) {
        store.plan.push({ call: 'write', failure: injected });
        expect((await flusher.flush()).ok).toBe(false);
        failed += 1;
        continue;
      }
      expect((await flusher.flush()).ok).toBe(true);
      expect(await stored(identity)).toEqual(await expected(registry));
      expect(await storedWindows(identity)).toEqual(await expectedWindows(registry));
    }
    return failed;
  }

  it('matches the reference after every flush of many random operations', async () => {
    expect(await randomOperations()).toBe(0);
  });

  it('matches it too when writes fail on the way or lose their reply, and the next flush catches up', async () => {
    // Every third step fails, alternately before Redis and after it applied the write.
    const failure = (step: number): Failure | undefined =>
      step % 3 === 1 ? (step % 2 === 0 ? 'before' : 'after') : undefined;
    expect(await randomOperations(failure)).toBe(13);
  });

  it('a collect callback that throws fails the flush, as getMetricsAsJSON fails, and loses nothing', async () => {
    const registry = new Registry();
    let broken = true;
    new Gauge({
      name: 'fragile',
      help: 'Its collect throws at first',
      registers: [registry],
      collect() {
        if (broken) throw new Error('collect failed');
        this.set(1);
      },
    });
    const many = new Counter({
      name: 'many_total',
      help: 'Many',
      labelNames: ['n'],
      registers: [registry],
    });
    for (let n = 0; n < 2000; n += 1) many.inc({ n: String(n) });
    const { identity, flusher } = makeFlusher(registry);
    await expect(registry.getMetricsAsJSON()).rejects.toThrow('collect failed');
    const failed = await flusher.flush();
    expect(failed.ok).toBe(false);
    expect(failed.error?.message).toBe('collect failed');

    broken = false;
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 2001 });
    expect(await stored(identity)).toEqual(await expected(registry));
  });

  it('a flush that fails keeps what changed, and the next one sends it', async () => {
    const proxy = await startTcpProxy(Number(new URL(testRedisUrl()).port));
    const viaProxy = new Redis({
      host: '127.0.0.1',
      port: proxy.port,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 20,
    });
    viaProxy.on('error', () => undefined);
    try {
      const registry = new Registry();
      const counter = new Counter({
        name: 'kept_total',
        help: 'Kept',
        labelNames: ['n'],
        registers: [registry],
      });
      const gauge = new Gauge({ name: 'kept_gauge', help: 'Kept', registers: [registry] });
      counter.inc({ n: '1' });
      gauge.set(1);
      await new Promise((resolve) => viaProxy.once('ready', resolve));
      const { identity, flusher } = makeFlusher(registry, {
        store: new RedisMetricsStore(viaProxy, prefix),
      });
      expect((await flusher.flush()).ok).toBe(true);

      // Redis out of reach: the connection drops and new ones go nowhere.
      proxy.retarget(1);
      counter.inc({ n: '1' }, 5);
      counter.inc({ n: '2' });
      gauge.remove();
      expect((await flusher.flush()).ok).toBe(false);
      counter.inc({ n: '3' });

      proxy.retarget(Number(new URL(testRedisUrl()).port));
      // Reconnected (the failed flush left it disconnected).
      for (let waited = 0; viaProxy.status !== 'ready'; waited += 20) {
        if (waited > 10_000) throw new Error(`not reconnected: ${viaProxy.status}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const back = await flusher.flush();
      expect(back).toMatchObject({ ok: true, sent: 3, removed: 1 });
      expect(await stored(identity)).toEqual({
        counters: {
          [seriesField('kept_total', { n: '1' })]: 'v 6',
          [seriesField('kept_total', { n: '2' })]: 'v 1',
          [seriesField('kept_total', { n: '3' })]: 'v 1',
        },
        gauges: {},
      });
    } finally {
      viaProxy.disconnect();
      await proxy.close();
    }
  });
});
