import { Counter, Gauge, Registry } from 'prom-client';

import { OPENMETRICS_CONTENT_TYPE, ProcessIdentity, RedisMetricsStore } from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

/**
 * In OpenMetrics a counter `a` and a counter `a_total` are one family, `a`, and a counter `a_total`'s
 * family is named like a gauge `a`. Processes of two versions (a counter renamed to end in `_total`)
 * store both names, and the totals keep the old one's counts: served as they are, every OpenMetrics
 * scrape would repeat a `# TYPE` line, and Prometheus would store one of the two counts, not their sum.
 */
describe('counters whose OpenMetrics names meet', () => {
  const redis = useTestRedis();

  it('serves a counter renamed to `_total` as one family, summed, and a counter beside a gauge of its family name as prom-client does', async () => {
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
    const { collector, warnings } = collectorKeepingWarnings({
      store: new RedisMetricsStore(redis.client, prefix),
    });

    const openMetrics = await collector.metrics(OPENMETRICS_CONTENT_TYPE);
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
        // Not valid OpenMetrics either, but Prometheus stores both (test/nest/prometheus-scrape.spec.ts).
        '# HELP queue Queued ever',
        '# TYPE queue counter',
        'queue_total 9',
        '# EOF',
        '',
      ].join('\n'),
    );
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
});
