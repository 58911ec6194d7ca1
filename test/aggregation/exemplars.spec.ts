import { jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { Counter, Histogram, Registry, type OpenMetricsContentType } from 'prom-client';

import {
  localFamilies,
  OPENMETRICS_CONTENT_TYPE,
  PrefixKeys,
  ProcessIdentity,
  readPrefix,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  renderFamilies,
  seriesField,
} from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

/** One process with exemplars: prom-client accepts them only in an OpenMetrics registry. */
function makeProcess(client: Redis, prefix: string, pid: number) {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  // Typed with any label name: prom-client types exemplar labels with the metric's own label names.
  const orders = new Counter<string>({
    name: 'orders_total',
    help: 'Orders',
    labelNames: ['shop'],
    enableExemplars: true,
    registers: [registry],
  });
  const lookups = new Histogram<string>({
    name: 'lookup_seconds',
    help: 'Lookups',
    buckets: [0.1, 1],
    enableExemplars: true,
    registers: [registry],
  });
  const flusher = testFlusher(client, prefix, registry, {
    identity: ProcessIdentity.create({ hostname: 'h', pid }),
  });
  return { registry, orders, lookups, flusher };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisNowMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

describe('exemplars merged across processes', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('exemplars');

  it('serves the latest exemplar of each counter and bucket, by when it was recorded, in OpenMetrics only', async () => {
    const { client } = redis;
    const [first, second, third] = [1, 2, 3].map((pid) => makeProcess(client, prefix, pid));
    const start = await redisNowMs(client);
    first.orders.inc({ labels: { shop: 'north' }, value: 1, exemplarLabels: { trace_id: 'p1' } });
    first.lookups.observe({ value: 0.05, exemplarLabels: { trace_id: 'p1' } });
    // Apart by more than two flushers can place a time differently (half a write's round trip each).
    await pause(100);
    second.orders.inc({ labels: { shop: 'north' }, value: 2, exemplarLabels: { trace_id: 'p2' } });
    second.lookups.observe({ value: 0.0625, exemplarLabels: { trace_id: 'p2' } });
    second.lookups.observe({ value: 5, exemplarLabels: { trace_id: 'p2-inf', span_id: 's' } });
    second.orders.inc({ labels: { shop: 'south' }, value: 1 });
    await pause(100);
    third.lookups.observe({ value: 0.5, exemplarLabels: { trace_id: 'p3' } });
    // Written newest first: the oldest exemplar arrives last and must not win.
    for (const process of [third, second, first])
      expect((await process.flusher.flush()).ok).toBe(true);
    const end = await redisNowMs(client);

    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });
    const openMetrics = await collector.metrics(OPENMETRICS_CONTENT_TYPE);
    const text = await collector.metrics();

    const exemplar = /^(.*) # (\{.*\}) (\S+) (\S+)$/;
    const lines = openMetrics.split('\n').map((line) => {
      const match = exemplar.exec(line);
      return match ? { line: match[1], labels: match[2], value: match[3], at: match[4] } : line;
    });
    const at = (labels: string) =>
      Number(lines.find((l) => typeof l === 'object' && l.labels === labels)!.at) * 1000;
    const withExemplar = (line: string, labels: string, value: string) => ({
      line,
      labels,
      value,
      at: expect.any(String),
    });
    expect(lines).toEqual([
      '# HELP lookup_seconds Lookups',
      '# TYPE lookup_seconds histogram',
      withExemplar('lookup_seconds_bucket{le="0.1"} 2', '{trace_id="p2"}', '0.0625'),
      withExemplar('lookup_seconds_bucket{le="1"} 3', '{trace_id="p3"}', '0.5'),
      withExemplar('lookup_seconds_bucket{le="+Inf"} 4', '{trace_id="p2-inf",span_id="s"}', '5'),
      'lookup_seconds_sum 5.6125',
      'lookup_seconds_count 4',
      '# HELP orders Orders',
      '# TYPE orders counter',
      withExemplar('orders_total{shop="north"} 3', '{trace_id="p2"}', '2'),
      'orders_total{shop="south"} 1',
      '# EOF',
      '',
    ]);
    // Times of recording on Redis's clock, in order.
    expect(at('{trace_id="p2"}')).toBeGreaterThanOrEqual(start);
    expect(at('{trace_id="p3"}')).toBeGreaterThan(at('{trace_id="p2"}'));
    expect(at('{trace_id="p3"}')).toBeLessThanOrEqual(end);
    expect(text).not.toContain('trace_id');
    expect(text).toContain('orders_total{shop="north"} 3\n');

    // The text format cannot serve exemplars: its scrapes leave them unread.
    const store = new RedisMetricsStore(client, prefix);
    expect((await readPrefix(store)).exemplars).toBeUndefined();
    const read = await readPrefix(store, undefined, { exemplars: true });
    expect(read.exemplars?.map((e) => [e.metricName, e.le, e.exemplar.labels.trace_id])).toEqual(
      expect.arrayContaining([
        ['orders_total', undefined, 'p2'],
        ['lookup_seconds', '0.1', 'p2'],
        ['lookup_seconds', '1', 'p3'],
        ['lookup_seconds', '+Inf', 'p2-inf'],
      ]),
    );
    expect(await client.hlen(new PrefixKeys(prefix).exemplars)).toBe(4);
  });

  it('a process forgets the exemplars of series its registry dropped, which the store keeps', async () => {
    const { client } = redis;
    const churn = redis.prefix('exemplars-churn');
    const { orders, flusher } = makeProcess(client, churn, 1);
    // A label per tenant, reset each round to bound the registry (and 150 exemplars written in all).
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 50; i += 1) {
        const shop = `${round}-${i}`;
        orders.inc({ labels: { shop }, value: 1, exemplarLabels: { trace_id: shop } });
      }
      expect((await flusher.flush()).ok).toBe(true);
      orders.reset();
    }
    orders.inc({ labels: { shop: 'last' }, value: 1, exemplarLabels: { trace_id: 'last' } });
    expect((await flusher.flush()).ok).toBe(true);

    // What the flusher remembers having sent: the one exemplar its registry still holds.
    const sent = (flusher as unknown as { ackedExemplars: Map<string, string> }).ackedExemplars;
    expect([...sent.keys()]).toEqual([seriesField('orders_total', { shop: 'last' })]);
    expect(await client.hlen(new PrefixKeys(churn).exemplars)).toBe(151);
  });

  it("serves one process's own registry with the exemplars prom-client prints", async () => {
    const { registry, orders, lookups } = makeProcess(redis.client, redis.prefix('unused'), 9);
    orders.inc({ labels: { shop: 'east' }, value: 4, exemplarLabels: { trace_id: 'own' } });
    lookups.observe({ value: 0.25, exemplarLabels: { trace_id: 'own' } });

    const served = await renderFamilies(await localFamilies(registry), OPENMETRICS_CONTENT_TYPE);

    expect(served).toBe(await registry.metrics());
    expect(served).toContain('# {trace_id="own"} 0.25 ');
  });
});

// A host's wall clock stepped back (NTP, a resumed VM) between an exemplar and the flush that sends it.
describe('an exemplar recorded before a step of the wall clock', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('exemplars-clock-step');

  afterEach(() => jest.restoreAllMocks());

  it('is dated no later than the flush that read it, so an exemplar recorded later wins', async () => {
    const { client } = redis;
    const [first, second] = [1, 2].map((pid) => makeProcess(client, prefix, pid));
    const start = await redisNowMs(client);
    const labels = { shop: 'north' };
    first.orders.inc({ labels, value: 1, exemplarLabels: { trace_id: 'before-step' } });
    const wallNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => wallNow() - 600_000);
    expect((await first.flusher.flush()).ok).toBe(true);
    await pause(100);
    // Recorded and read on the stepped clock alike.
    second.orders.inc({ labels, value: 2, exemplarLabels: { trace_id: 'after-step' } });
    expect((await second.flusher.flush()).ok).toBe(true);
    const end = await redisNowMs(client);

    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });
    const line = (await collector.metrics(OPENMETRICS_CONTENT_TYPE))
      .split('\n')
      .find((text) => text.startsWith('orders_total{'));
    expect(line).toMatch(/^orders_total\{shop="north"\} 3 # \{trace_id="after-step"\} 2 \S+$/);
    const at = Number(line!.split(' ').at(-1)) * 1000;
    expect(at).toBeGreaterThanOrEqual(Math.floor(start));
    expect(at).toBeLessThanOrEqual(Math.ceil(end));
  });
});
