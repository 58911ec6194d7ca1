import type { Redis } from 'ioredis';

import { Registry } from 'prom-client';

import { PrefixKeys, RedisMultiProcessCollector, RedisStorageManager } from '../../src/index.js';
import { promtoolCheck } from '../harness/promtool.js';
import {
  connectTestRedis,
  deletePrefix,
  keysUnderPrefix,
  uniquePrefix,
} from '../harness/test-redis.js';
import { startWriter, waitFor, type Writer, type WriterPlan } from '../harness/writer-processes.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

const MODES = [
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
/** Writers flush every 100 ms: a window this long keeps a writer the loaded machine starves live. */
const LIVENESS_MS = 1500;

function plan(counter: number, gauge: number, observations: number[], payload: number): WriterPlan {
  return {
    counters: [{ name: 'jobs_total', help: 'Jobs done', labels: { kind: 'mail' }, inc: counter }],
    gauges: MODES.map((mode) => ({
      name: `g_${mode}_mode`,
      help: `Gauge in mode ${mode}`,
      mode,
      value: gauge,
    })),
    histograms: [{ name: 'job_seconds', help: 'Job time', buckets: [0.25, 1], observations }],
    summaries: [{ name: 'payload_bytes', help: 'Payload', observations: [payload] }],
  };
}

describe('aggregation over real writer processes', () => {
  let client: Redis;
  const writers: Writer[] = [];
  const prefixes: string[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterEach(async () => {
    await Promise.all(writers.splice(0).map((w) => w.kill('SIGKILL')));
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  function newPrefix(label: string): string {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  }

  async function start(prefix: string, writerPlan: WriterPlan, env: Record<string, string>) {
    const writer = await startWriter(prefix, writerPlan, env);
    writers.push(writer);
    return writer;
  }

  it('serves an exact exposition for every type and gauge mode after one writer was SIGKILLed', async () => {
    const prefix = newPrefix('exact');
    const env = { FLUSH_MS: '100', TTL_MS: '60000' };
    // Started one after another, so the killed writer's gauges are the oldest and writer one's the newest.
    const killed = await start(prefix, plan(10, 5, [0.75], 50), {
      ...env,
      FAKE_HOSTNAME: 'host-a',
      FAKE_PID: '102',
    });
    await start(prefix, plan(4, 2, [0.5, 2], 30), {
      ...env,
      FAKE_HOSTNAME: 'host-b',
      FAKE_PID: '101',
    });
    await start(prefix, plan(3, 1, [0.125], 10), {
      ...env,
      FAKE_HOSTNAME: 'host-a',
      FAKE_PID: '101',
    });
    await killed.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, LIVENESS_MS + 200));

    const text = await new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      livenessWindowMs: LIVENESS_MS,
    }).metrics();

    const perProcess = (name: string, rows: [string, string, number][]) =>
      rows.map(([pid, host, value]) => `${name}{pid="${pid}",hostname="${host}"} ${value}`);
    const gauge = (mode: string, lines: string[]) => [
      `# HELP g_${mode}_mode Gauge in mode ${mode}`,
      `# TYPE g_${mode}_mode gauge`,
      ...lines,
      '',
    ];
    expect(text).toBe(
      [
        ...gauge(
          'all',
          perProcess('g_all_mode', [
            ['101', 'host-a', 1],
            ['102', 'host-a', 5],
            ['101', 'host-b', 2],
          ]),
        ),
        ...gauge(
          'live',
          perProcess('g_live_mode', [
            ['101', 'host-a', 1],
            ['101', 'host-b', 2],
          ]),
        ),
        ...gauge(
          'liveall',
          perProcess('g_liveall_mode', [
            ['101', 'host-a', 1],
            ['101', 'host-b', 2],
          ]),
        ),
        ...gauge('livemax', ['g_livemax_mode 2']),
        ...gauge('livemin', ['g_livemin_mode 1']),
        ...gauge('livemostrecent', ['g_livemostrecent_mode 1']),
        ...gauge('livesum', ['g_livesum_mode 3']),
        ...gauge('max', ['g_max_mode 5']),
        ...gauge('min', ['g_min_mode 1']),
        ...gauge('mostrecent', ['g_mostrecent_mode 1']),
        ...gauge('sum', ['g_sum_mode 8']),
        '# HELP job_seconds Job time',
        '# TYPE job_seconds histogram',
        'job_seconds_bucket{le="0.25"} 1',
        'job_seconds_bucket{le="1"} 3',
        'job_seconds_bucket{le="+Inf"} 4',
        'job_seconds_sum 3.375',
        'job_seconds_count 4',
        '',
        '# HELP jobs_total Jobs done',
        '# TYPE jobs_total counter',
        'jobs_total{kind="mail"} 17',
        '',
        '# HELP payload_bytes Payload',
        '# TYPE payload_bytes summary',
        // The windows of all three (50, 30, 10): the killed writer's is served until it is reaped, as
        // its summary has no maxAgeSeconds.
        'payload_bytes{quantile="0.5"} 30',
        'payload_bytes_sum 90',
        'payload_bytes_count 3',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toBe('');
  });

  it('drops a killed writer from live* gauges within the liveness window, keeps it in all until reaped, and never reaps an idle live one', async () => {
    const prefix = newPrefix('liveness');
    const ttlMs = 3000;
    const env = { FLUSH_MS: '100', TTL_MS: String(ttlMs) };
    const idle = await start(prefix, plan(1, 1, [], 1), { ...env, FAKE_PID: '201' });
    const idleSince = Date.now();
    const idleKeys = new PrefixKeys(prefix);
    const idleSeries = async () => [
      await client.hlen(idleKeys.gauges(idle.id)),
      await client.hlen(idleKeys.counters(idle.id)),
    ];
    const idleSeriesAtStart = await idleSeries();
    const killed = await start(prefix, plan(2, 7, [], 1), { ...env, FAKE_PID: '202' });
    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      livenessWindowMs: LIVENESS_MS,
    });
    const gaugeLines = async (name: string) =>
      (await collector.metrics())
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));

    await killed.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(async () => (await gaugeLines('g_liveall_mode')).length === 1);
    const droppedAfter = Date.now() - killedAt;
    const allWhileDead = await gaugeLines('g_all_mode');
    const reapedAt = Date.now();
    await waitFor(async () => (await gaugeLines('g_all_mode')).length === 1);
    const text = await collector.metrics();

    // Dropped by the liveness window, well before the TTL could reap it.
    expect(droppedAfter).toBeLessThanOrEqual(LIVENESS_MS + 1000);
    expect(allWhileDead).toHaveLength(2);
    expect(await gaugeLines('g_livesum_mode')).toEqual(['g_livesum_mode 1']);
    expect(Date.now() - reapedAt).toBeLessThan(ttlMs + 1000);
    // The counter keeps the dead writer's 2 in the totals; the idle writer, silent for longer than the
    // TTL, still has all its series.
    expect(text).toContain('jobs_total{kind="mail"} 3\n');
    expect(Date.now() - idleSince).toBeGreaterThan(ttlMs);
    // 11 gauges, the mode declared for each and the summary's quantile window, and a counter, a
    // histogram and a summary; each hash also holds its write number.
    expect(idleSeriesAtStart).toEqual([11 + 11 + 1 + 1, 3 + 1]);
    expect(await idleSeries()).toEqual(idleSeriesAtStart);
    expect(await gaugeLines('g_all_mode')).toEqual([
      expect.stringMatching(/^g_all_mode\{pid="201",hostname=".*"\} 1$/),
    ]);
    expect(promtoolCheck(text)).toBe('');
  });

  it('markProcessDead ends a killed worker at once: its live* and all gauges leave, its counts stay', async () => {
    const prefix = newPrefix('mark-dead');
    const env = { FLUSH_MS: '100', TTL_MS: '60000', FAKE_HOSTNAME: 'node-1' };
    await start(prefix, plan(3, 2, [0.5], 10), { ...env, FAKE_PID: '301' });
    const killed = await start(prefix, plan(4, 5, [2], 20), { ...env, FAKE_PID: '302' });
    // The cluster primary, on the same prefix: it sees the worker exit and says so.
    const primary = new RedisStorageManager({
      client,
      keyPrefix: prefix,
      registry: new Registry(),
      defaultMetrics: false,
      identity: { hostname: 'node-1', pid: 300 },
    });
    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      livenessWindowMs: 60_000, // far longer than the test: only markProcessDead can drop it
    });
    const lines = async (...names: string[]) =>
      (await collector.metrics())
        .split('\n')
        .filter((line) =>
          names.some((name) => line.startsWith(`${name}{`) || line.startsWith(`${name} `)),
        );

    await killed.kill('SIGKILL');
    const before = await lines('g_livesum_mode', 'g_all_mode');
    const elsewhere = await primary.markProcessDead({ pid: 302, hostname: 'other-node' });
    const ended = await primary.markProcessDead({ pid: 302, hostname: 'node-1' });
    const after = await lines('g_livesum_mode', 'g_all_mode', 'jobs_total', 'job_seconds_count');

    expect(before).toEqual([
      'g_all_mode{pid="301",hostname="node-1"} 2',
      'g_all_mode{pid="302",hostname="node-1"} 5',
      'g_livesum_mode 7',
    ]);
    expect(elsewhere).toEqual([]);
    expect(ended).toEqual([killed.id]);
    expect(after).toEqual([
      'g_all_mode{pid="301",hostname="node-1"} 2',
      'g_livesum_mode 2',
      'job_seconds_count 2',
      'jobs_total{kind="mail"} 7',
    ]);
  });

  it('a counter of writers killed and replaced over and over never decreases and ends exact, with bounded keys', async () => {
    const prefix = newPrefix('churn');
    const env = { FLUSH_MS: '100', TTL_MS: '800' };
    const keys = new PrefixKeys(prefix);
    // One long-lived writer reaps the dead ones.
    await start(
      prefix,
      { counters: [{ name: 'jobs_total', labels: { kind: 'mail' }, inc: 1 }] },
      env,
    );
    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: prefix,
      livenessWindowMs: LIVENESS_MS,
    });
    const total = async () => {
      const match = /^jobs_total\{kind="mail"\} (\d+)$/m.exec(await collector.metrics());
      return Number(match?.[1]);
    };

    let expected = 1;
    const seen: number[] = [await total()];
    let mostKeys = 0;
    for (let round = 1; round <= 12; round += 1) {
      const worker = await start(
        prefix,
        { counters: [{ name: 'jobs_total', labels: { kind: 'mail' }, inc: round }] },
        env,
      );
      expected += round;
      seen.push(await total());
      await worker.kill('SIGKILL');
      seen.push(await total());
      mostKeys = Math.max(mostKeys, (await keysUnderPrefix(client, prefix)).length);
    }
    await waitFor(async () => (await client.zcard(keys.processes)) === 1);
    seen.push(await total());

    expect(seen.every((value, i) => i === 0 || value >= seen[i - 1])).toBe(true);
    expect(seen.at(-1)).toBe(expected);
    expect(expected).toBe(79);
    // Six shared keys plus two hashes per stored process (gauges, previous counter values); dead
    // ones go within the TTL.
    expect(await keysUnderPrefix(client, prefix)).toHaveLength(6 + 2);
    expect(mostKeys).toBeLessThanOrEqual(6 + 2 * 9);
    // Thirteen writer processes started one after another: about 20 s on a 2-core machine running
    // other specs, and past 30 s once while three other test runs shared it.
  }, 60_000);

  it('mergeFromRedis matches the rules of Python prometheus_client for accumulate true and false', async () => {
    const prefix = newPrefix('python');
    const histogram = (observations: number[]): WriterPlan => ({
      histograms: [{ name: 'h', buckets: [1, 2, 5], observations }],
      counters: [{ name: 'c_total', inc: observations.length }],
    });
    await start(prefix, histogram([0.5, 1.5, 3]), {});
    await start(prefix, histogram([0.5, 10]), {});

    const samples = async (accumulate: boolean) =>
      (await RedisMultiProcessCollector.mergeFromRedis(client, prefix, accumulate)).map((family) =>
        family.samples.map(
          (s) => `${s.name}${s.labels.le ? `{le=${s.labels.le}}` : ''} ${s.value}`,
        ),
      );

    // Python: per-bucket (non-cumulative) values summed over processes; accumulate=True makes them
    // cumulative and adds _count = the +Inf total; accumulate=False leaves them raw, with no _count.
    expect(await samples(true)).toEqual([
      ['c_total 5'],
      [
        'h_bucket{le=1} 2',
        'h_bucket{le=2} 3',
        'h_bucket{le=5} 4',
        'h_bucket{le=+Inf} 5',
        'h_sum 15.5',
        'h_count 5',
      ],
    ]);
    expect(await samples(false)).toEqual([
      ['c_total 5'],
      [
        'h_bucket{le=1} 2',
        'h_bucket{le=2} 1',
        'h_bucket{le=5} 1',
        'h_bucket{le=+Inf} 1',
        'h_sum 15.5',
      ],
    ]);
  });

  it('skips bad data under the prefix with one warning, not one per entry nor per scrape of the same data, and serves every good series exactly', async () => {
    const prefix = newPrefix('bad');
    const keys = new PrefixKeys(prefix);
    const good = await start(
      prefix,
      {
        counters: [{ name: 'good_total', help: 'Good', labels: { kind: 'mail' }, inc: 4 }],
        gauges: [{ name: 'good_level', help: 'Good level', mode: 'sum', value: 2 }],
        histograms: [
          { name: 'good_seconds', help: 'Good time', buckets: [1], observations: [0.5] },
        ],
      },
      {},
    );
    const counterMeta = JSON.stringify({ type: 'counter', help: 'x' });
    // Another app, another version or a hand edit: bad names, non-finite counts, broken JSON.
    await client.hset(
      keys.metadata,
      'broken',
      '{not json',
      'odd',
      JSON.stringify({ type: 'info', help: 'x' }),
      'bad metric',
      counterMeta,
      'nan_total',
      counterMeta,
      'inf_total',
      counterMeta,
    );
    await client.hset(
      keys.totals,
      '["bad metric",{}]',
      'v 1',
      '["good_total",{"bad label":"x"}]',
      'v 2',
      '["good_total",{"__reserved":"x"}]',
      'v 2',
      '["nan_total",{}]',
      'v NaN',
      '["inf_total",{}]',
      'v 1e999',
      '["good_total",{"kind":"sms"}]',
      'v abc',
      '["orphan_total",{}]',
      'v 3',
      'not a series field',
      'v 1',
    );
    await client.hset(keys.gauges(good.id), '["good_level",{"bad label":"x"}]', '1 2');
    await client.zadd(keys.processes, 1, 'ghost');
    await client.set(keys.gauges('ghost'), 'a string where a hash belongs');
    const { collector, warnings } = collectorKeepingWarnings({
      client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();
    await collector.metrics();

    expect(text).toBe(
      [
        '# HELP good_level Good level',
        '# TYPE good_level gauge',
        'good_level 2',
        '',
        '# HELP good_seconds Good time',
        '# TYPE good_seconds histogram',
        'good_seconds_bucket{le="1"} 1',
        'good_seconds_bucket{le="+Inf"} 1',
        'good_seconds_sum 0.5',
        'good_seconds_count 1',
        '',
        '# HELP good_total Good',
        '# TYPE good_total counter',
        'good_total{kind="mail"} 4',
        '',
      ].join('\n'),
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBe(
      `Skipped 14 unreadable entries in Redis under prefix "${prefix}": key {${prefix}}:gauges:ghost is of the wrong type; metadata of "broken" is not valid; metadata of "odd" is not valid; ...`,
    );
    expect(promtoolCheck(text)).toBe('');
  });
});
