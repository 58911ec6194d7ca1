import { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry, Summary, type Metric } from 'prom-client';

import {
  localFamilies,
  OPENMETRICS_CONTENT_TYPE,
  PrefixKeys,
  ProcessIdentity,
  readRedisMetricsOptionsFromEnv,
  RedisMetricsConfigError,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  renderFamilies,
  seriesField,
  type GaugeMode,
} from '../../src/index.js';
import { promtoolCheck } from '../harness/promtool.js';
import { makeTempDir, removeTempDir, startRedisProcess } from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { testFlusher } from '../harness/test-flusher.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

const MODES: GaugeMode[] = [
  'all',
  'liveall',
  'live',
  'max',
  'min',
  'sum',
  'mostrecent',
  'livemax',
  'livemin',
  'livesum',
  'livemostrecent',
];

/** One simulated worker: its own registry, identity and flusher. */
function makeWorker(client: Redis, keys: PrefixKeys, hostname: string, pid: number) {
  const registry = new Registry();
  const requests = new Counter({
    name: 'requests',
    help: 'Requests served',
    labelNames: ['code'],
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'latency_seconds',
    help: 'Latency',
    buckets: [0.1, 1],
    registers: [registry],
  });
  const size = new Summary({
    name: 'payload_bytes',
    help: 'Payload',
    percentiles: [0.5],
    registers: [registry],
  });
  const gauges = Object.fromEntries(
    MODES.map((mode) => [
      mode,
      new Gauge({ name: `g_${mode}`, help: `Gauge in mode ${mode}`, registers: [registry] }),
    ]),
  ) as Record<GaugeMode, Gauge>;
  const identity = ProcessIdentity.create({ hostname, pid });
  const flusher = testFlusher(client, keys.prefix, registry, {
    identity,
    gaugeModeOf: (name) => name.slice(2) as GaugeMode,
  });
  return { registry, requests, latency, size, gauges, identity, flusher };
}

describe('RedisMultiProcessCollector', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('collect');
  const keys = new PrefixKeys(prefix);

  it('merges every metric type and gauge mode into exact exposition text, with a dead and an ended process', async () => {
    const { client } = redis;
    const a = makeWorker(client, keys, 'host-a', 11);
    const b = makeWorker(client, keys, 'host-b', 11);
    const dead = makeWorker(client, keys, 'host-a', 12);
    const ended = makeWorker(client, keys, 'host-c', 13);
    a.requests.inc({ code: '200' }, 3);
    b.requests.inc({ code: '200' }, 4);
    b.requests.inc({ code: '500' });
    dead.requests.inc({ code: '200' }, 10);
    ended.requests.inc({ code: '200' }, 100);
    a.latency.observe(0.0625); // binary-exact values keep the sum exact
    b.latency.observe(0.5);
    b.latency.observe(2);
    ended.latency.observe(0.03125);
    a.size.observe(10);
    b.size.observe(30);
    for (const mode of MODES) {
      a.gauges[mode].set(1);
      dead.gauges[mode].set(5);
      b.gauges[mode].set(2);
    }
    // Set before each flusher first read them, a value counts as set at that first read: the order of
    // the first flushes decides mostrecent, dead first, then b, then a (a's 1 is the latest). They are
    // 50 ms apart, more than two flushers can place a time differently (half a write's round trip each).
    const apart = () => new Promise((resolve) => setTimeout(resolve, 50));
    await dead.flusher.flush();
    await ended.flusher.flush();
    await ended.flusher.end(); // graceful end: its counts stay in the totals, its gauges go
    await apart();
    await b.flusher.flush();
    await apart();
    await a.flusher.flush();
    // "dead" stopped heartbeating long ago: push its heartbeat back past the liveness window.
    await client.zadd(keys.processes, 'XX', 1000, dead.identity.id);

    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      livenessWindowMs: 5000,
    });
    const text = await collector.metrics();

    expect(text).toBe(
      [
        '# HELP g_all Gauge in mode all',
        '# TYPE g_all gauge',
        'g_all{pid="11",hostname="host-a"} 1',
        'g_all{pid="12",hostname="host-a"} 5',
        'g_all{pid="11",hostname="host-b"} 2',
        '',
        '# HELP g_live Gauge in mode live',
        '# TYPE g_live gauge',
        'g_live{pid="11",hostname="host-a"} 1',
        'g_live{pid="11",hostname="host-b"} 2',
        '',
        '# HELP g_liveall Gauge in mode liveall',
        '# TYPE g_liveall gauge',
        'g_liveall{pid="11",hostname="host-a"} 1',
        'g_liveall{pid="11",hostname="host-b"} 2',
        '',
        '# HELP g_livemax Gauge in mode livemax',
        '# TYPE g_livemax gauge',
        'g_livemax 2',
        '',
        '# HELP g_livemin Gauge in mode livemin',
        '# TYPE g_livemin gauge',
        'g_livemin 1',
        '',
        '# HELP g_livemostrecent Gauge in mode livemostrecent',
        '# TYPE g_livemostrecent gauge',
        'g_livemostrecent 1',
        '',
        '# HELP g_livesum Gauge in mode livesum',
        '# TYPE g_livesum gauge',
        'g_livesum 3',
        '',
        '# HELP g_max Gauge in mode max',
        '# TYPE g_max gauge',
        'g_max 5',
        '',
        '# HELP g_min Gauge in mode min',
        '# TYPE g_min gauge',
        'g_min 1',
        '',
        '# HELP g_mostrecent Gauge in mode mostrecent',
        '# TYPE g_mostrecent gauge',
        'g_mostrecent 1',
        '',
        '# HELP g_sum Gauge in mode sum',
        '# TYPE g_sum gauge',
        'g_sum 8',
        '',
        '# HELP latency_seconds Latency',
        '# TYPE latency_seconds histogram',
        'latency_seconds_bucket{le="0.1"} 2',
        'latency_seconds_bucket{le="1"} 3',
        'latency_seconds_bucket{le="+Inf"} 4',
        'latency_seconds_sum 2.59375',
        'latency_seconds_count 4',
        '',
        '# HELP payload_bytes Payload',
        '# TYPE payload_bytes summary',
        // The median of the windows of a and b (10 and 30), as one t-digest interpolates it.
        'payload_bytes{quantile="0.5"} 20',
        'payload_bytes_sum 40',
        'payload_bytes_count 2',
        '',
        '# HELP requests Requests served',
        '# TYPE requests counter',
        'requests{code="200"} 117',
        'requests{code="500"} 1',
        '',
      ].join('\n'),
    );
  });

  it("lets a pid reused on one host (a restarted container) replace the old process's gauge values in every mode, as Python does", async () => {
    const { client } = redis;
    const reusedPrefix = redis.prefix('reused-pid');
    const reusedKeys = new PrefixKeys(reusedPrefix);
    const modes: GaugeMode[] = ['all', 'max', 'min', 'sum'];
    const worker = (pid: number, values: Record<string, number>) => {
      const registry = new Registry();
      for (const mode of modes) {
        const gauge = new Gauge({
          name: `g_${mode}`,
          help: `Gauge in mode ${mode}`,
          labelNames: ['k'],
          registers: [registry],
        });
        for (const [k, value] of Object.entries(values)) gauge.set({ k }, value);
      }
      const identity = ProcessIdentity.create({ hostname: 'web', pid });
      const flusher = testFlusher(client, reusedPrefix, registry, {
        identity,
        gaugeModeOf: (name) => name.slice(2) as GaugeMode,
      });
      return { identity, flusher };
    };
    // pid 7 was killed (its heartbeat long gone, not yet reaped) and its container restarted with pid 7.
    const killed = worker(7, { a: 5, b: 7 });
    await killed.flusher.flush();
    await client.zadd(reusedKeys.processes, 'XX', 1000, killed.identity.id);
    await worker(7, { a: 3 }).flusher.flush();
    await worker(8, { a: 1 }).flusher.flush();
    const collector = new RedisMultiProcessCollector({ client, keyPrefix: reusedPrefix });

    const text = await collector.metrics();

    // Python's client (each a process of its own, pid 7 twice) writes the restarted pid 7 into the
    // file of the killed one: its `a` replaces the old `a`, the old `b` stays, and so here.
    expect(text).toBe(
      [
        '# HELP g_all Gauge in mode all',
        '# TYPE g_all gauge',
        'g_all{k="a",pid="7",hostname="web"} 3',
        'g_all{k="a",pid="8",hostname="web"} 1',
        'g_all{k="b",pid="7",hostname="web"} 7',
        '',
        '# HELP g_max Gauge in mode max',
        '# TYPE g_max gauge',
        'g_max{k="a"} 3',
        'g_max{k="b"} 7',
        '',
        '# HELP g_min Gauge in mode min',
        '# TYPE g_min gauge',
        'g_min{k="a"} 1',
        'g_min{k="b"} 7',
        '',
        '# HELP g_sum Gauge in mode sum',
        '# TYPE g_sum gauge',
        'g_sum{k="a"} 4',
        'g_sum{k="b"} 7',
        '',
      ].join('\n'),
    );
  });

  it('still counts two live processes named alike by the identity option in a reducing mode', async () => {
    const { client } = redis;
    const alikePrefix = redis.prefix('alike');
    // Two replicas of one service, each pid 1, both named after the service: neither replaced the other.
    for (const value of [5, 3]) {
      const registry = new Registry();
      new Gauge({ name: 'g_sum', help: 'Gauge in mode sum', registers: [registry] }).set(value);
      await testFlusher(client, alikePrefix, registry, {
        identity: ProcessIdentity.create({ hostname: 'api', pid: 1 }),
        gaugeModeOf: () => 'sum',
      }).flush();
    }
    const collector = new RedisMultiProcessCollector({ client, keyPrefix: alikePrefix });

    expect(await collector.metrics()).toBe(
      '# HELP g_sum Gauge in mode sum\n# TYPE g_sum gauge\ng_sum 8\n',
    );
  });

  it('answers an OpenMetrics scrape of a prefix no process has written to with `# EOF` alone', async () => {
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: redis.prefix('nothing-yet'),
    });

    // prom-client's `\n# EOF\n` made Prometheus 2.42 mark the target down: "\n" is not a valid start token.
    expect(await collector.metrics(OPENMETRICS_CONTENT_TYPE)).toBe('# EOF\n');
  });

  it("keeps a per-process gauge's own pid and hostname labels as exported_pid and exported_hostname, losing no series", async () => {
    const { client } = redis;
    const clashPrefix = redis.prefix('label-clash');
    const registry = new Registry();
    const upstream = new Gauge({
      name: 'upstream_up',
      help: 'Upstreams this worker reaches',
      labelNames: ['hostname', 'pid', 'exported_pid'],
      registers: [registry],
    });
    upstream.set({ hostname: 'db-1', pid: '70', exported_pid: 'x' }, 1);
    upstream.set({ hostname: 'db-2', pid: '70', exported_pid: 'x' }, 0);
    const identity = ProcessIdentity.create({ hostname: 'web-1', pid: 11 });
    await testFlusher(client, clashPrefix, registry, {
      identity,
      gaugeModeOf: () => 'all',
    }).flush();
    const collector = new RedisMultiProcessCollector({ client, keyPrefix: clashPrefix });

    const text = await collector.metrics();

    expect(text).toBe(
      [
        '# HELP upstream_up Upstreams this worker reaches',
        '# TYPE upstream_up gauge',
        'upstream_up{exported_pid="x",exported_exported_pid="70",exported_hostname="db-1",pid="11",hostname="web-1"} 1',
        'upstream_up{exported_pid="x",exported_exported_pid="70",exported_hostname="db-2",pid="11",hostname="web-1"} 0',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toBe('');
  });

  it('keeps label values with quotes, backslashes, newlines and non-ASCII exactly, in both formats', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'odd_total',
      help: 'Odd "labels" \\ here',
      labelNames: ['v'],
      registers: [registry],
    });
    const value = 'say "hi" \\ back\nslash ü 😀';
    counter.inc({ v: value }, 2);
    const labelsPrefix = redis.prefix('labels');
    await testFlusher(redis.client, labelsPrefix, registry).flush();
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: labelsPrefix,
    });

    const families = await collector.collect();
    const text = await collector.metrics();
    const openMetrics = await collector.metrics(OPENMETRICS_CONTENT_TYPE);

    expect(families[0].samples[0].labels.v).toBe(value);
    expect(text).toBe(
      '# HELP odd_total Odd "labels" \\\\ here\n# TYPE odd_total counter\nodd_total{v="say \\"hi\\" \\\\ back\\nslash ü 😀"} 2\n',
    );
    expect(openMetrics).toBe(
      '# HELP odd Odd \\"labels\\" \\\\ here\n# TYPE odd counter\nodd_total{v="say \\"hi\\" \\\\ back\\nslash ü 😀"} 2\n# EOF\n',
    );
    expect(promtoolCheck(text)).toBe('');
  });

  it('adds the counts of two series that a default label puts on one label set, rather than keeping one', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ region: 'eu' });
    const jobs = new Counter({
      name: 'jobs_total',
      help: 'Jobs',
      labelNames: ['region', 'kind'],
      registers: [registry],
    });
    const waits = new Histogram({
      name: 'wait_seconds',
      help: 'Waits',
      labelNames: ['region'],
      buckets: [1],
      registers: [registry],
    });
    const mergedPrefix = redis.prefix('default-label-merge');
    const flusher = testFlusher(redis.client, mergedPrefix, registry);
    jobs.inc({ kind: 'mail' }, 100);
    await flusher.flush();
    // Both show region="eu" once the default fills the empty value or the missing label.
    jobs.inc({ region: 'eu', kind: 'mail' }, 1000);
    jobs.inc({ region: '', kind: 'sms' }, 1);
    jobs.inc({ region: 'eu', kind: 'sms' }, 10);
    waits.observe({ region: '' }, 0.5);
    waits.observe({ region: 'eu' }, 2);
    await flusher.flush();
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: mergedPrefix,
    });

    const text = await collector.metrics();

    expect(text).toBe(
      [
        '# HELP jobs_total Jobs',
        '# TYPE jobs_total counter',
        'jobs_total{kind="mail",region="eu"} 1100',
        'jobs_total{kind="sms",region="eu"} 11',
        '',
        '# HELP wait_seconds Waits',
        '# TYPE wait_seconds histogram',
        'wait_seconds_bucket{region="eu",le="1"} 1',
        'wait_seconds_bucket{region="eu",le="+Inf"} 2',
        'wait_seconds_sum{region="eu"} 2.5',
        'wait_seconds_count{region="eu"} 2',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toBe('');
  });

  /** A hand-written collector, as prom-client's exposition reads it: `get()` is all it needs. */
  const custom = (name: string, type: string, values?: object[]) =>
    ({
      name,
      help: name,
      type,
      aggregator: 'sum',
      get: async () => ({ name, help: name, type, aggregator: 'sum', values }),
      reset: () => undefined,
    }) as unknown as Metric;

  it("stores an app's own metric whose samples have no labels object, or which has no values, as prom-client prints it, and its other metrics with it", async () => {
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(3);
    registry.registerMetric(custom('queue_depth', 'gauge', [{ value: 7 }]));
    registry.registerMetric(custom('retries_total', 'counter', [{ value: 2 }, { value: 5 }]));
    registry.registerMetric(custom('nothing_yet', 'gauge'));
    const customPrefix = redis.prefix('custom-metrics');
    const flusher = testFlusher(redis.client, customPrefix, registry, {
      gaugeModeOf: () => 'sum',
    });

    // It failed before, every time: "Cannot convert undefined or null to object" for the samples
    // without labels, "metric.values is not iterable" for the metric without values.
    const flushed = await flusher.flush();
    expect(flushed.ok ? undefined : flushed.error?.message).toBeUndefined();
    const text = await new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: customPrefix,
    }).metrics();

    expect(text).toBe(
      [
        '# HELP orders_total Orders',
        '# TYPE orders_total counter',
        'orders_total 3',
        '',
        '# HELP queue_depth queue_depth',
        '# TYPE queue_depth gauge',
        'queue_depth 7',
        '',
        '# HELP retries_total retries_total',
        '# TYPE retries_total counter',
        'retries_total 7',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toBe('');
  });

  it("serves such metrics of the app's own as prom-client does when it serves this process's registry (storage off, or the local fallback)", async () => {
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(3);
    registry.registerMetric(custom('queue_depth', 'gauge', [{ value: 7 }]));
    registry.registerMetric(custom('nothing_yet', 'gauge'));

    // It threw before ("Cannot convert undefined or null to object"), so every such scrape failed.
    const text = await renderFamilies(await localFamilies(registry));

    expect(text).toBe(await registry.metrics());
    expect(text).toContain('\nqueue_depth 7\n');
  });

  it('leaves out, and names, totals of a metric that another version stored as another type', async () => {
    const skewPrefix = redis.prefix('type-skew');
    // The old version counted queue_jobs; the new one, rolled out beside it, makes it a histogram.
    const oldRegistry = new Registry();
    const oldJobs = new Counter({
      name: 'queue_jobs',
      help: 'Jobs',
      labelNames: ['kind'],
      registers: [oldRegistry],
    });
    new Counter({ name: 'queue_runs_total', help: 'Runs', registers: [oldRegistry] }).inc(2);
    oldJobs.inc({ kind: 'mail' }, 3);
    oldJobs.inc({ kind: 'sms' }, 4);
    const newRegistry = new Registry();
    new Histogram({
      name: 'queue_jobs',
      help: 'Job time',
      labelNames: ['kind'],
      buckets: [1],
      registers: [newRegistry],
    }).observe({ kind: 'mail' }, 0.5);
    await testFlusher(redis.client, skewPrefix, oldRegistry).flush();
    await testFlusher(redis.client, skewPrefix, newRegistry).flush();
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: skewPrefix,
    });

    const text = await collector.metrics();

    // Neither series is a histogram's: {kind="sms"} is the counter's alone, {kind="mail"} holds the
    // counter's count beside the histogram's count and sum, its buckets dropped as a layout they lack.
    expect(text).toBe(
      [
        '# HELP queue_runs_total Runs',
        '# TYPE queue_runs_total counter',
        'queue_runs_total 2',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([
      `Skipped 2 unreadable entries in Redis under prefix "${skewPrefix}": ` +
        `"queue_jobs" [["kind","mail"]]: the stored value is not a histogram's (v c s), left out (a version where the metric had another type wrote it; deleteCounts("queue_jobs") deletes it); ` +
        `"queue_jobs" [["kind","sms"]]: the stored value is not a histogram's (v), left out (a version where the metric had another type wrote it; deleteCounts("queue_jobs") deletes it)`,
    ]);
    expect(promtoolCheck(text)).toBe('');
  });

  it('shows at most 300 characters of an entry it skipped, however long its label values', async () => {
    const longPrefix = redis.prefix('long-problem');
    const longKeys = new PrefixKeys(longPrefix);
    const registry = new Registry();
    const value = 'x'.repeat(100_000);
    new Counter({ name: 'long_total', help: 'Long', labelNames: ['v'], registers: [registry] }).inc(
      { v: value },
    );
    await testFlusher(redis.client, longPrefix, registry).flush();
    const field = `["long_total",{"v":"${value}"}]`;
    await redis.client.hset(longKeys.totals, field, 'v abc');
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: longPrefix,
    });

    expect(await collector.metrics()).toBe('\n');

    const problem = `totals: value of ${field} is not readable`;
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${longPrefix}": ${problem.slice(0, 300)}... (${problem.length} characters)`,
    ]);
    expect(warnings[0].length).toBeLessThan(500);
  });

  it('names the time of a gauge it left out for a time that is not finite, and the value for a value that is not a number', async () => {
    const prefix = redis.prefix('gauge-times');
    const store = new RedisMetricsStore(redis.client, prefix);
    const writer = ProcessIdentity.create({ hostname: 'h', pid: 7 });
    const [never, before, unknown, fine] = ['never', 'before', 'unknown', 'fine'].map((name) =>
      seriesField(name, {}),
    );
    const meta = (name: string) =>
      [name, { type: 'gauge' as const, help: name, mode: 'all' }] as [
        string,
        { type: 'gauge'; help: string; mode: string },
      ];
    await store.write(writer, {
      expectedSeq: 0,
      seq: 1,
      metadata: ['never', 'before', 'unknown', 'fine'].map(meta),
      gauges: [
        [never, { value: 1, timestamp: Infinity }],
        [before, { value: 2, timestamp: -Infinity }],
        [unknown, { value: 3, timestamp: NaN }],
        [fine, { value: 4, timestamp: 1000 }],
      ],
    });
    const keys = new PrefixKeys(prefix);
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    const scraped = await collector.metrics();
    // A value no version writes, once the times are gone (a warning shows three problems at most).
    await redis.client.hdel(keys.gauges(writer.id), never, before, unknown);
    await redis.client.hset(keys.gauges(writer.id), fine, 'four 1000');
    await collector.metrics();

    expect(scraped).toBe('# HELP fine fine\n# TYPE fine gauge\nfine{pid="7",hostname="h"} 4\n');
    const problems = [
      `time of ${never} is not finite (+Inf)`,
      `time of ${before} is not finite (-Inf)`,
      `time of ${unknown} is not finite (NaN)`,
    ].map((problem) => `process ${writer.id}: ${problem}`);
    expect(warnings).toEqual([
      `Skipped 3 unreadable entries in Redis under prefix "${prefix}": ${problems.join('; ')}`,
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": process ${writer.id}: value of ${fine} is not a number`,
    ]);
  });

  it('reads REDIS_KEY_PREFIX as the module does, in the constructor and mergeFromRedis: trimmed, and empty as unset', async () => {
    const registry = new Registry();
    new Counter({ name: 'env_prefix_total', help: 'Counted', registers: [registry] }).inc(4);
    const envPrefix = redis.prefix('env-prefix');
    const written = readRedisMetricsOptionsFromEnv({ REDIS_KEY_PREFIX: ` ${envPrefix} ` });
    await testFlusher(redis.client, written.keyPrefix, registry).flush();
    const before = process.env.REDIS_KEY_PREFIX;
    try {
      process.env.REDIS_KEY_PREFIX = ` ${envPrefix} `;
      const collector = new RedisMultiProcessCollector({ client: redis.client });
      expect(await collector.metrics()).toBe(
        '# HELP env_prefix_total Counted\n# TYPE env_prefix_total counter\nenv_prefix_total 4\n',
      );
      // mergeFromRedis without a prefix (or with undefined, Python's None) reads the same one.
      for (const merged of [
        await RedisMultiProcessCollector.mergeFromRedis(redis.client),
        await RedisMultiProcessCollector.mergeFromRedis(redis.client, undefined, false),
      ]) {
        expect(await renderFamilies(merged)).toBe(
          '# HELP env_prefix_total Counted\n# TYPE env_prefix_total counter\nenv_prefix_total 4\n',
        );
      }
      process.env.REDIS_KEY_PREFIX = '';
      expect(new RedisMultiProcessCollector({ client: redis.client })).toBeInstanceOf(
        RedisMultiProcessCollector,
      );
    } finally {
      if (before === undefined) delete process.env.REDIS_KEY_PREFIX;
      else process.env.REDIS_KEY_PREFIX = before;
    }
  });

  it('reads PROMETHEUS_REDIS_URL as the module does: its query db, or a clear refusal, and refuses to start without it or a client', async () => {
    const registry = new Registry();
    new Counter({ name: 'url_query_total', help: 'Counted', registers: [registry] }).inc(2);
    const prefix = redis.prefix('url-query');
    await testFlusher(redis.client, prefix, registry).flush();
    const before = process.env.PROMETHEUS_REDIS_URL;
    try {
      process.env.PROMETHEUS_REDIS_URL = `${testRedisUrl()}?db=0&family=4`;
      const collector = new RedisMultiProcessCollector({ keyPrefix: prefix });
      try {
        expect(await collector.metrics()).toBe(
          '# HELP url_query_total Counted\n# TYPE url_query_total counter\nurl_query_total 2\n',
        );
      } finally {
        await collector.close();
      }
      process.env.PROMETHEUS_REDIS_URL = `${testRedisUrl()}?password=not-shown&maxRetriesPerRequest=20`;
      expect(() => new RedisMultiProcessCollector({ keyPrefix: prefix })).toThrow(
        new RedisMetricsConfigError(
          'PROMETHEUS_REDIS_URL',
          "has a query parameter the module does not take: only db, username, password, family are read from a URL (ioredis would take any other as a client setting over the module's own)",
        ),
      );
      // Neither a client nor the variable (the seed: one of them is required).
      delete process.env.PROMETHEUS_REDIS_URL;
      expect(() => new RedisMultiProcessCollector({ keyPrefix: prefix })).toThrow(
        new TypeError(
          'RedisMultiProcessCollector needs a Redis client: pass options.client or set PROMETHEUS_REDIS_URL',
        ),
      );
    } finally {
      if (before === undefined) delete process.env.PROMETHEUS_REDIS_URL;
      else process.env.PROMETHEUS_REDIS_URL = before;
    }
  });

  it("gives up on a PROMETHEUS_REDIS_URL server that does not answer after the 5 s command timeout, as Python's socket_timeout", async () => {
    const dir = await makeTempDir('collector-paused');
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    });
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    const before = process.env.PROMETHEUS_REDIS_URL;
    process.env.PROMETHEUS_REDIS_URL = `redis://127.0.0.1:${server.port}`;
    const collector = new RedisMultiProcessCollector({ keyPrefix: redis.prefix('paused') });
    try {
      await admin.call('CLIENT', 'PAUSE', '15000', 'ALL');
      const started = Date.now();
      await expect(collector.collect()).rejects.toThrow(
        `no answer from 127.0.0.1:${server.port} within the command timeout (is Redis overloaded or paused?)`,
      );
      const waited = Date.now() - started;
      expect(waited).toBeGreaterThanOrEqual(4900);
      expect(waited).toBeLessThan(8000);
    } finally {
      if (before === undefined) delete process.env.PROMETHEUS_REDIS_URL;
      else process.env.PROMETHEUS_REDIS_URL = before;
      // Stopped before the collector's QUIT, which the pause would hold.
      admin.disconnect();
      await server.kill();
      await collector.close();
      await removeTempDir(dir);
    }
  }, 30_000);

  it('refuses a liveness window or a grace that is NaN or negative, which would turn its check off', async () => {
    const { client } = redis;
    const refused = (setting: string, got: string) =>
      `nestjs-redis-metrics: ${setting} must be a number of milliseconds, 0 or more; got ${got}`;
    expect(() => new RedisMultiProcessCollector({ client, lostDataGraceMs: NaN })).toThrow(
      refused('collector option "lostDataGraceMs"', 'NaN'),
    );
    expect(() => new RedisMultiProcessCollector({ client, livenessWindowMs: -1 })).toThrow(
      refused('collector option "livenessWindowMs"', '-1'),
    );
    await expect(
      RedisMultiProcessCollector.mergeFromRedis(client, 'any', true, 5000, -5),
    ).rejects.toThrow(refused('mergeFromRedis argument "graceMs"', '-5'));
    await expect(
      RedisMultiProcessCollector.mergeFromRedis(client, 'any', true, NaN),
    ).rejects.toThrow(refused('mergeFromRedis argument "livenessWindowMs"', 'NaN'));
    // 0 is a bound like any other: no wait after a loss.
    expect(new RedisMultiProcessCollector({ client, lostDataGraceMs: 0 })).toBeInstanceOf(
      RedisMultiProcessCollector,
    );
  });
});
