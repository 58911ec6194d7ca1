import { PrefixKeys, ProcessIdentity, RedisMetricsStore, seriesField } from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

/** A series field of `metric` whose only label value is `bytes`, as raw bytes. */
function fieldWithBytes(metric: string, label: string, bytes: number[]): Buffer {
  return Buffer.concat([
    Buffer.from(`["${metric}",{"${label}":"`),
    Buffer.from(bytes),
    Buffer.from('"}]'),
  ]);
}

// No writer of this module stores bytes that are not UTF-8 (JSON escapes what could not be). Read as
// text, such bytes would all become U+FFFD, and two fields would read as one series served twice.
describe('a scrape of fields that are not valid UTF-8', () => {
  const redis = useTestRedis();

  it('leaves them out, says how many and where, and serves the other series exactly', async () => {
    const prefix = redis.prefix('not-utf8');
    const keys = new PrefixKeys(prefix);
    const writer = ProcessIdentity.create({ hostname: 'h', pid: 7 });
    await new RedisMetricsStore(redis.client, prefix).write(writer, {
      expectedSeq: 0,
      seq: 1,
      metadata: [
        ['jobs_total', { type: 'counter', help: 'Jobs' }],
        ['queue_depth', { type: 'gauge', help: 'Depth', mode: 'sum' }],
      ],
      counters: [[seriesField('jobs_total', { kind: 'ok' }), 'v 5']],
      gauges: [[seriesField('queue_depth', { kind: 'ok' }), { value: 2, timestamp: 1000 }]],
    });
    // Two label values of invalid bytes, and a value that ends in the middle of a character.
    await redis.client.hset(keys.totals, fieldWithBytes('jobs_total', 'kind', [0xff, 0xfe]), 'v 3');
    await redis.client.hset(keys.totals, fieldWithBytes('jobs_total', 'kind', [0xfe, 0xff]), 'v 4');
    await redis.client.hset(
      keys.totals,
      seriesField('jobs_total', { kind: 'cut' }),
      Buffer.from([0x76, 0x20, 0x31, 0xc3]),
    );
    await redis.client.hset(
      keys.gauges(writer.id),
      fieldWithBytes('queue_depth', 'kind', [0xc3]),
      '9 1000',
    );
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    expect(await collector.metrics()).toBe(
      [
        '# HELP jobs_total Jobs',
        '# TYPE jobs_total counter',
        'jobs_total{kind="ok"} 5',
        '',
        '# HELP queue_depth Depth',
        '# TYPE queue_depth gauge',
        'queue_depth{kind="ok"} 2',
        '',
      ].join('\n'),
    );
    expect(warnings).toEqual([
      `Skipped 2 unreadable entries in Redis under prefix "${prefix}": ` +
        `key ${keys.totals}: 3 fields whose name or value is not valid UTF-8, left out; ` +
        `key ${keys.gauges(writer.id)}: 1 field whose name or value is not valid UTF-8, left out`,
    ]);
  });

  it('leaves them out of a hash too big for one HSCAN call', async () => {
    const prefix = redis.prefix('not-utf8-big');
    const keys = new PrefixKeys(prefix);
    const writer = ProcessIdentity.create({ hostname: 'h', pid: 7 });
    const counters: [string, string][] = [];
    for (let i = 0; i < 5000; i += 1)
      counters.push([seriesField('jobs_total', { n: String(i) }), 'v 1']);
    await new RedisMetricsStore(redis.client, prefix).write(writer, {
      expectedSeq: 0,
      seq: 1,
      metadata: [['jobs_total', { type: 'counter', help: 'Jobs' }]],
      counters,
    });
    await redis.client.hset(keys.totals, fieldWithBytes('jobs_total', 'n', [0xff]), 'v 3');
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();

    const samples = text.split('\n').filter((line) => line.startsWith('jobs_total{'));
    expect(samples).toHaveLength(5000);
    expect(samples.filter((line) => !/^jobs_total\{n="\d+"\} 1$/.test(line))).toEqual([]);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": ` +
        `key ${keys.totals}: 1 field whose name or value is not valid UTF-8, left out`,
    ]);
  });
});
