import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import {
  OPENMETRICS_CONTENT_TYPE,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
} from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

/**
 * In OpenMetrics a counter `a` and a counter `a_total` are one family, `a`, and a counter `a_total`'s
 * family is named like a gauge `a`. Processes of two versions (a counter renamed to end in `_total`)
 * store both names, and the totals keep the old one's counts: served as they are, every OpenMetrics
 * scrape would repeat a `# TYPE` line, and Prometheus would store one of the two counts, not their sum.
 */
describe('counters whose OpenMetrics names meet', () => {
  const redis = useTestRedis();

  it('serves a counter renamed to `_total` as one family, summed; leaves out a counter named like a gauge, and says so', async () => {
    const prefix = redis.prefix('om-names');
    // A process of the version before the rename, and one of the version after it.
    const older = new Registry();
    const jobs = new Counter({
      name: 'jobs',
      help: 'Jobs (old)',
      labelNames: ['kind'],
      registers: [older],
    });
    jobs.inc({ kind: 'mail' }, 7);
    jobs.inc({ kind: 'sms' }, 1);
    new Gauge({ name: 'queue', help: 'Queued', registers: [older] }).set(4);
    const newer = new Registry();
    const jobsTotal = new Counter({
      name: 'jobs_total',
      help: 'Jobs',
      labelNames: ['kind'],
      registers: [newer],
    });
    jobsTotal.inc({ kind: 'mail' }, 5);
    jobsTotal.inc({ kind: 'push' }, 2);
    new Counter({ name: 'queue_total', help: 'Queued ever', registers: [newer] }).inc(9);
    for (const [pid, registry] of [
      [1, older],
      [2, newer],
    ] as const) {
      await testFlusher(redis.client, prefix, registry, {
        identity: ProcessIdentity.create({ hostname: 'h', pid }),
        gaugeModeOf: () => 'sum',
      }).flush();
    }
    const warnings: string[] = [];
    const collector = new RedisMultiProcessCollector({
      store: new RedisMetricsStore(redis.client, prefix),
      logger: { warn: (message) => warnings.push(message) },
    });

    const openMetrics = await collector.metrics(OPENMETRICS_CONTENT_TYPE);
    const warned = warnings.splice(0);
    const text = await collector.metrics();

    expect(openMetrics).toBe(
      [
        '# HELP jobs Jobs',
        '# TYPE jobs counter',
        'jobs_total{kind="mail"} 12',
        'jobs_total{kind="push"} 2',
        'jobs_total{kind="sms"} 1',
        '# HELP queue Queued',
        '# TYPE queue gauge',
        'queue 4',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(warned).toEqual([
      `Scrape of Redis under prefix "${prefix}": counter "queue_total" is left out of OpenMetrics scrapes: its name there (family "queue", samples "queue_total") is the gauge "queue"'s, and OpenMetrics allows one family a name; rename one of them (the text format serves both)`,
    ]);
    // The text format names them apart, and serves each as stored.
    expect(text).toBe(
      [
        '# HELP jobs Jobs (old)',
        '# TYPE jobs counter',
        'jobs{kind="mail"} 7',
        'jobs{kind="sms"} 1',
        '',
        '# HELP jobs_total Jobs',
        '# TYPE jobs_total counter',
        'jobs_total{kind="mail"} 5',
        'jobs_total{kind="push"} 2',
        '',
        '# HELP queue Queued',
        '# TYPE queue gauge',
        'queue 4',
        '',
        '# HELP queue_total Queued ever',
        '# TYPE queue_total counter',
        'queue_total 9',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([]);
  });

  it('serves a counter `a` beside a histogram `a_total`: no name of one is a name of the other there', async () => {
    const prefix = redis.prefix('om-histogram-total');
    // Counter `payments` has family `payments` and samples `payments_total`; histogram
    // `payments_total` has family `payments_total` and samples `payments_total_bucket`, `_sum` and
    // `_count`.
    const registry = new Registry();
    new Counter({ name: 'payments', help: 'Payments', registers: [registry] }).inc(3);
    new Histogram({
      name: 'payments_total',
      help: 'Payment amounts',
      buckets: [10],
      registers: [registry],
    }).observe(4);
    await testFlusher(redis.client, prefix, registry).flush();
    const warnings: string[] = [];
    const collector = new RedisMultiProcessCollector({
      store: new RedisMetricsStore(redis.client, prefix),
      logger: { warn: (message) => warnings.push(message) },
    });

    expect(await collector.metrics(OPENMETRICS_CONTENT_TYPE)).toBe(
      [
        '# HELP payments Payments',
        '# TYPE payments counter',
        'payments_total 3',
        '# HELP payments_total Payment amounts',
        '# TYPE payments_total histogram',
        'payments_total_bucket{le="10"} 1',
        'payments_total_bucket{le="+Inf"} 1',
        'payments_total_sum 4',
        'payments_total_count 1',
        '# EOF',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([]);
  });
});
