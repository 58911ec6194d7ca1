import { PrefixKeys, ProcessIdentity, RedisMetricsStore, seriesField } from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

// A quantile window (`q <expires at> <centroids>`) serves only a summary series: in the field of a
// gauge it takes the place of the gauge's value, and no series of another type reads it.
describe('quantile windows of a metric that is not a summary', () => {
  const redis = useTestRedis();

  it('are left out and named, and every other series is served exactly', async () => {
    const prefix = redis.prefix('misplaced-windows');
    const keys = new PrefixKeys(prefix);
    const writer = ProcessIdentity.create({ hostname: 'h', pid: 7 });
    await new RedisMetricsStore(redis.client, prefix).write(writer, {
      expectedSeq: 0,
      seq: 1,
      metadata: [
        ['jobs_total', { type: 'counter', help: 'Jobs' }],
        ['queue_depth', { type: 'gauge', help: 'Depth', mode: 'all' }],
      ],
      counters: [[seriesField('jobs_total', {}), 'v 5']],
      gauges: [
        [seriesField('queue_depth', { queue: 'mail' }), { value: 2, timestamp: 1000 }],
        [seriesField('queue_depth', { queue: 'sms' }), { value: 3, timestamp: 1000 }],
      ],
    });
    // The sms gauge's value replaced by a window, and a window in the field of the counter.
    await redis.client.hset(
      keys.gauges(writer.id),
      seriesField('queue_depth', { queue: 'sms' }),
      'q +Inf 1 2:3',
      seriesField('jobs_total', {}),
      'q +Inf 4',
    );
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    expect(await collector.metrics()).toBe(
      [
        '# HELP jobs_total Jobs',
        '# TYPE jobs_total counter',
        'jobs_total 5',
        '',
        '# HELP queue_depth Depth',
        '# TYPE queue_depth gauge',
        'queue_depth{queue="mail",pid="7",hostname="h"} 2',
        '',
      ].join('\n'),
    );
    const why =
      'left out (written by processes of a version where it was a summary, which take them along when they end, or by something else)';
    expect(warnings).toEqual([
      `Skipped 2 unreadable entries in Redis under prefix "${prefix}": ` +
        `"queue_depth" is a gauge but processes hold quantile windows of it (1 series), ${why}; ` +
        `"jobs_total" is a counter but processes hold quantile windows of it (1 series), ${why}`,
    ]);
  });
});
