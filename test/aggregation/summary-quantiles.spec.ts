import { Registry, Summary } from 'prom-client';

import {
  decodeWindowDigest,
  PrefixKeys,
  ProcessIdentity,
  RedisMultiProcessCollector,
  renderFamilies,
  seriesField,
  type MetricFamily,
  type MetricsFlusher,
} from '../../src/index.js';
import { promtoolCheck } from '../harness/promtool.js';
import { seededRandom } from '../harness/seeded-random.js';
import { testFlusher } from '../harness/test-flusher.js';
import { deletePrefix, useTestRedis } from '../harness/test-redis.js';
import { waitFor } from '../harness/writer-processes.js';

/** Eight distributions, most of them skewed: one per process. */
const DISTRIBUTIONS: ((random: () => number) => number)[] = [
  (r) => -Math.log(1 - r()), // exponential
  (r) => Math.exp(normal(r)), // log-normal
  (r) => 5 + r(), // uniform, away from the others
  (r) => 1 / Math.pow(1 - r(), 1 / 1.5), // Pareto, a heavy tail
  (r) => 2 + 0.1 * normal(r), // narrow normal
  (r) => (r() < 0.9 ? 0.01 * r() : 10 + r()), // 90% tiny, 10% far out
  (r) => -0.01 * Math.log(1 - r()), // exponential, small scale
  (r) => Math.exp(2 * normal(r)), // log-normal, wide
];

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** The samples of one family's series, by name and quantile label. */
function samplesOf(families: MetricFamily[], name: string): Record<string, number> {
  const family = families.find((f) => f.name === name);
  return Object.fromEntries(
    (family?.samples ?? []).map((s) => [
      s.labels.quantile === undefined ? s.name : `${s.name}{quantile="${s.labels.quantile}"}`,
      s.value,
    ]),
  );
}

interface TimeWindowState {
  ringBuffer: { size(): number; percentile(p: number): number }[];
  currentBuffer: number;
}

/** The quantiles prom-client serves for a summary series now, as its `get()` would (without compressing first). */
function servedByPromClient(summary: Summary, percentiles: number[], key = ''): number[] {
  const entry = (summary as unknown as { hashMap: Record<string, { td: TimeWindowState }> })
    .hashMap[key];
  // The digest the flush just read: read it without rotating the ring again.
  const digest = entry.td.ringBuffer[entry.td.currentBuffer];
  return percentiles.map((p) => (digest.size() === 0 ? 0 : digest.percentile(p)));
}

describe('summary quantiles merged across processes', () => {
  const redis = useTestRedis();

  function writer(prefix: string, registry: Registry, pid: number): MetricsFlusher {
    return testFlusher(redis.client, prefix, registry, {
      identity: ProcessIdentity.create({ hostname: 'h', pid }),
    });
  }

  it('eight processes of 100,000 skewed values: p50, p90 and p99 within 2%, 1% and 0.5% in rank of all 800,000', async () => {
    const prefix = redis.prefix('quantiles-800k');
    const percentiles = [0.5, 0.9, 0.99];
    const all = new Float64Array(800_000);
    const sums: number[] = [];
    const flushers: MetricsFlusher[] = [];
    DISTRIBUTIONS.forEach((draw, process) => {
      const registry = new Registry();
      const summary = new Summary({
        name: 'request_seconds',
        help: 'Request time',
        percentiles,
        registers: [registry],
      });
      const random = seededRandom(process + 1);
      for (let i = 0; i < 100_000; i += 1) {
        const value = draw(random);
        all[process * 100_000 + i] = value;
        summary.observe(value);
      }
      sums.push(
        (summary as unknown as { hashMap: Record<string, { sum: number }> }).hashMap[''].sum,
      );
      flushers.push(writer(prefix, registry, process + 1));
    });
    for (const flusher of flushers) expect((await flusher.flush()).ok).toBe(true);

    const collector = new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix });
    const families = await collector.collect();
    const merged = samplesOf(families, 'request_seconds');

    all.sort();
    // Where a value ranks among all of them (the middle of its ties), as a fraction.
    const rankOf = (value: number) => {
      const below = lowerBound(all, value);
      const atOrBelow = upperBound(all, value);
      return (below + atOrBelow) / 2 / all.length;
    };
    const errors = percentiles.map((p) =>
      Math.abs(rankOf(merged[`request_seconds{quantile="${p}"}`]) - p),
    );
    expect(errors[0]).toBeLessThanOrEqual(0.02);
    expect(errors[1]).toBeLessThanOrEqual(0.01);
    expect(errors[2]).toBeLessThanOrEqual(0.005);
    // The count is exact, and the sum is the processes' sums added in the order they were written,
    // as the write script adds them: the same double.
    expect(merged.request_seconds_count).toBe(800_000);
    expect(merged.request_seconds_sum).toBe(sums.reduce((total, sum) => total + sum, 0));

    const text = await renderFamilies(families);
    expect(text.split('\n').filter((line) => line.startsWith('request_seconds'))).toEqual([
      ...percentiles.map(
        (p) => `request_seconds{quantile="${p}"} ${merged[`request_seconds{quantile="${p}"}`]}`,
      ),
      `request_seconds_sum ${merged.request_seconds_sum}`,
      'request_seconds_count 800000',
    ]);
    expect(promtoolCheck(text)).toBe('');
  });

  it('one process: the quantiles prom-client itself serves, for every label set', async () => {
    const prefix = redis.prefix('quantiles-one');
    const registry = new Registry();
    const summary = new Summary({
      name: 'payload_bytes',
      help: 'Payload',
      labelNames: ['route'],
      registers: [registry],
    });
    const random = seededRandom(42);
    for (let i = 0; i < 20_000; i += 1) {
      summary.observe({ route: i % 3 === 0 ? '/a' : '/b' }, Math.round(Math.exp(8 * random())));
    }
    const flusher = writer(prefix, registry, 1);
    expect((await flusher.flush()).ok).toBe(true);
    const percentiles = [0.01, 0.05, 0.5, 0.9, 0.95, 0.99, 0.999];

    const families = await new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
    }).collect();

    const family = families.find((f) => f.name === 'payload_bytes')!;
    for (const route of ['/a', '/b']) {
      const key = Object.keys(
        (summary as unknown as { hashMap: Record<string, unknown> }).hashMap,
      ).find((k) => k.includes(route))!;
      const served = family.samples
        .filter((s) => s.name === 'payload_bytes' && s.labels.route === route)
        .map((s) => [s.labels.quantile, s.value]);
      expect(served).toEqual(
        servedByPromClient(summary, percentiles, key).map((value, i) => [
          String(percentiles[i]),
          value,
        ]),
      );
    }
  });

  it('two series of one process that a default label puts on one label set: their quantiles from both windows, as their count and sum are added', async () => {
    const prefix = redis.prefix('quantiles-one-label-set');
    const registry = new Registry();
    registry.setDefaultLabels({ region: 'eu' });
    const waits = new Summary({
      name: 'wait_seconds',
      help: 'Waits',
      labelNames: ['region'],
      percentiles: [0, 0.5, 1],
      registers: [registry],
    });
    // Both show region="eu" once the default fills the empty value.
    for (const value of [1, 2, 3]) waits.observe({ region: '' }, value);
    for (const value of [10, 20, 30]) waits.observe({ region: 'eu' }, value);
    const flusher = writer(prefix, registry, 1);
    const collector = new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix });
    const lines = async () => {
      expect((await flusher.flush()).ok).toBe(true);
      return (await collector.metrics()).split('\n').filter((line) => line.startsWith('wait_'));
    };

    // As two processes' windows of one series merge: the median is read between 3 and 10.
    expect(await lines()).toEqual([
      'wait_seconds{region="eu",quantile="0"} 1',
      'wait_seconds{region="eu",quantile="0.5"} 6.5',
      'wait_seconds{region="eu",quantile="1"} 30',
      'wait_seconds_sum{region="eu"} 66',
      'wait_seconds_count{region="eu"} 6',
    ]);
    // Either series observing again changes the window written.
    waits.observe({ region: '' }, 100);
    expect(await lines()).toEqual([
      'wait_seconds{region="eu",quantile="0"} 1',
      'wait_seconds{region="eu",quantile="0.5"} 10',
      'wait_seconds{region="eu",quantile="1"} 100',
      'wait_seconds_sum{region="eu"} 166',
      'wait_seconds_count{region="eu"} 7',
    ]);
  });

  /**
   * Two processes of one summary: a young one whose ring has `ageBuckets` 5 (`maxAgeSeconds` 600),
   * which observed 1 to 1000, and one without a window, which observed 1001 to 2000.
   */
  function youngAndPlain(prefix: string) {
    const make = (pid: number, config: { maxAgeSeconds?: number; ageBuckets?: number }) => {
      const registry = new Registry();
      const summary = new Summary({
        name: 'work_seconds',
        help: 'Work',
        percentiles: [0.5],
        registers: [registry],
        ...config,
      });
      return { summary, flusher: writer(prefix, registry, pid) };
    };
    const young = make(1, { maxAgeSeconds: 600, ageBuckets: 5 });
    const plain = make(2, {});
    for (let i = 1; i <= 1000; i += 1) {
      young.summary.observe(i);
      plain.summary.observe(1000 + i);
    }
    return { young, plain };
  }

  /** The merged median of `work_seconds` under `prefix`. */
  async function mergedMedian(prefix: string): Promise<number> {
    const families = await new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
    }).collect();
    return samplesOf(families, 'work_seconds')['work_seconds{quantile="0.5"}'];
  }

  it('weighs a new process by its observations, not by the slots of its ring', async () => {
    // prom-client's ring starts as one digest in every slot, which then counts each observation once
    // per slot: a new process with ageBuckets 5 would weigh five times too much.
    const prefix = redis.prefix('quantiles-ring');
    const { young, plain } = youngAndPlain(prefix);
    await young.flusher.flush();
    await plain.flusher.flush();

    const median = await mergedMedian(prefix);

    // Values 1 to 2000, one each: the median is 1000.5; an observation counted five times would put
    // it near 600.
    expect(Math.abs(median - 1000.5)).toBeLessThanOrEqual(2000 * 0.01);
  });

  it('weighs a new process by its observations after some slots of its ring rotated', async () => {
    // Each observation before the first rotation counts once in every slot of the first digest; two
    // of five slots still holding it after three rotations, the slots would put its weight at 2.5 each.
    const prefix = redis.prefix('quantiles-ring-rotated');
    const { young, plain } = youngAndPlain(prefix);
    // Three slots of 120 s passed: the next read rotates the ring three times.
    const ring = (young.summary as unknown as { hashMap: Record<string, { td: TimeWindowState }> })
      .hashMap[''].td as TimeWindowState & { lastRotateTimestampMillis: number };
    ring.lastRotateTimestampMillis -= 3 * 120_000 + 1000;
    await young.flusher.flush();
    await plain.flusher.flush();
    expect(ring.currentBuffer).toBe(3);

    const median = await mergedMedian(prefix);

    // Values 1 to 2000, one each: the median is 1000.5; weighed 2.5 times, the young process's values
    // would put it at 700.
    expect(Math.abs(median - 1000.5)).toBeLessThanOrEqual(2000 * 0.01);
  });

  it('a window older than maxAgeSeconds leaves the quantiles, from a live process and from one that stopped writing', async () => {
    const prefix = redis.prefix('quantiles-age');
    const percentiles = [0.5, 0.9];
    const make = (pid: number) => {
      const registry = new Registry();
      const summary = new Summary({
        name: 'lookup_seconds',
        help: 'Lookup',
        percentiles,
        // A slot of 1 s: the stopped process's window expires after 1 s, the live one's empties after 2.
        maxAgeSeconds: 2,
        ageBuckets: 2,
        registers: [registry],
      });
      return { summary, flusher: writer(prefix, registry, pid) };
    };
    const live = make(1);
    const stopped = make(2);
    for (let i = 1; i <= 100; i += 1) {
      live.summary.observe(i / 100);
      stopped.summary.observe(10 + i / 100);
    }
    await live.flusher.flush();
    await stopped.flusher.flush();
    // A live process is one whose heartbeat is younger than 300 ms here.
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
      livenessWindowMs: 300,
    });
    const both = samplesOf(await collector.collect(), 'lookup_seconds');
    expect(both['lookup_seconds{quantile="0.9"}']).toBeGreaterThan(10);

    // The second process writes no more (as if killed). Once its window has passed the time
    // prom-client would have rotated it out, only the live process's window counts.
    let alone: Record<string, number> = {};
    let expected: number[] = [];
    await waitFor(async () => {
      await live.flusher.flush();
      expected = servedByPromClient(live.summary, percentiles);
      alone = samplesOf(await collector.collect(), 'lookup_seconds');
      return alone['lookup_seconds{quantile="0.9"}'] < 10;
    }, 5000);
    expect(percentiles.map((p) => alone[`lookup_seconds{quantile="${p}"}`])).toEqual(expected);
    expect(expected[1]).toBeGreaterThan(0);

    // Nothing observed for longer than maxAgeSeconds: the live process's window is empty, its
    // quantiles are 0 as prom-client serves them, and the counts stay.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    await live.flusher.flush();
    const idle = samplesOf(await collector.collect(), 'lookup_seconds');
    const own = await live.summary.get();

    expect(idle).toEqual({
      'lookup_seconds{quantile="0.5"}': 0,
      'lookup_seconds{quantile="0.9"}': 0,
      lookup_seconds_sum: idle.lookup_seconds_sum,
      lookup_seconds_count: 200,
    });
    expect(idle.lookup_seconds_sum).toBeCloseTo(50.5 + 1050.5, 9);
    expect(own.values.filter((v) => v.labels.quantile !== undefined).map((v) => v.value)).toEqual([
      0, 0,
    ]);
    const keys = new PrefixKeys(prefix);
    const field = seriesField('lookup_seconds', {});
    expect(
      await redis.client.hget(keys.gauges(live.flusher.acknowledged()!.processId), field),
    ).toBe(null);
  });

  it('a summary reset and observed as often again between two flushes serves its new quantiles', async () => {
    // prom-client's reset() empties the digests it has: the same object, whose count comes back.
    const prefix = redis.prefix('quantiles-reset');
    const percentiles = [0.5, 0.9];
    const registry = new Registry();
    const summary = new Summary({
      name: 'batch_seconds',
      help: 'Batch',
      percentiles,
      registers: [registry],
    });
    const flusher = writer(prefix, registry, 1);
    for (let i = 1; i <= 5; i += 1) summary.observe(i);
    expect((await flusher.flush()).ok).toBe(true);
    summary.reset();
    for (let i = 101; i <= 105; i += 1) summary.observe(i);
    expect((await flusher.flush()).ok).toBe(true);

    const served = samplesOf(
      await new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix }).collect(),
      'batch_seconds',
    );

    const expected = servedByPromClient(summary, percentiles);
    expect(expected[0]).toBe(103);
    expect(percentiles.map((p) => served[`batch_seconds{quantile="${p}"}`])).toEqual(expected);
  });

  it('stores a window with the time it rotates out, on the store clock, and writes it again after Redis lost it', async () => {
    const prefix = redis.prefix('quantiles-repair');
    const keys = new PrefixKeys(prefix);
    const registry = new Registry();
    const summary = new Summary({
      name: 'rpc_seconds',
      help: 'RPC',
      percentiles: [0.5, 0.99],
      maxAgeSeconds: 60,
      ageBuckets: 3,
      registers: [registry],
    });
    for (let i = 1; i <= 500; i += 1) summary.observe(i);
    const flusher = writer(prefix, registry, 1);
    const [seconds, micros] = await redis.client.time();
    const before = Number(seconds) * 1000 + Number(micros) / 1000;
    expect((await flusher.flush()).ok).toBe(true);
    const id = flusher.acknowledged()!.processId;
    const field = seriesField('rpc_seconds', {});
    const stored = (await redis.client.hget(keys.gauges(id), field))!;
    const window = decodeWindowDigest(stored)!;

    // One slot of the ring is 20 s: the window is served until 20 s after the summary was made.
    expect(window.expiresAt).toBeGreaterThan(before + 19_000);
    expect(window.expiresAt).toBeLessThan(before + 20_500);
    expect(window.centroids.reduce((n, c) => n + c.weight, 0)).toBe(500);
    // No wait after a loss: this test reads what was written again at once.
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
      lostDataGraceMs: 0,
    });
    const first = samplesOf(await collector.collect(), 'rpc_seconds');

    // Redis loses the process's gauges hash (evicted): the next flush repairs and writes it again.
    await redis.client.del(keys.gauges(id));
    const repaired = await flusher.flush();
    expect(repaired.repaired).toContain('gauges were lost');
    expect(await redis.client.hget(keys.gauges(id), field)).toBe(stored);
    // Everything under the prefix lost (Redis restarted empty): written again too.
    await deletePrefix(redis.client, prefix);
    expect((await flusher.flush()).ok).toBe(true);
    expect(await redis.client.hget(keys.gauges(id), field)).toBe(stored);
    expect(samplesOf(await collector.collect(), 'rpc_seconds')).toEqual(first);
  });
});

function lowerBound(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] < value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function upperBound(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}
