import { PrefixKeys, ProcessIdentity, RedisMetricsStore, seriesField } from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

// A process whose process info is missing (the hash deleted or evicted; its next write sets it again)
// shows pid="0" and hostname="unknown". Two such processes are not one pid reused: a reducing mode
// counts both; a per-process mode can show one series of those labels and says it left the others.
describe('processes whose process info is missing', () => {
  const redis = useTestRedis();

  it('all count in a reducing mode, a dead one included, and a per-process mode names those it leaves out', async () => {
    const prefix = redis.prefix('info-missing');
    const keys = new PrefixKeys(prefix);
    const store = new RedisMetricsStore(redis.client, prefix);
    const writers = [7, 8].map((pid) => ProcessIdentity.create({ hostname: `web-${pid}`, pid }));
    for (const [i, writer] of writers.entries()) {
      await store.write(writer, {
        expectedSeq: 0,
        seq: 1,
        metadata: [
          ['open_carts', { type: 'gauge', help: 'Carts', mode: 'sum' }],
          ['heap_bytes', { type: 'gauge', help: 'Heap', mode: 'all' }],
        ],
        gauges: [
          [seriesField('open_carts', {}), { value: 10 * (i + 1), timestamp: 1000 }],
          [seriesField('heap_bytes', {}), { value: 100 * (i + 1), timestamp: 1000 }],
        ],
      });
    }
    await redis.client.del(keys.processInfo);
    // web-7 died long ago: its heartbeat is older than the liveness window, its gauges stay.
    await redis.client.zadd(keys.processes, 1000, writers[0].id);
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    expect(await collector.metrics()).toBe(
      [
        '# HELP heap_bytes Heap',
        '# TYPE heap_bytes gauge',
        'heap_bytes{pid="0",hostname="unknown"} 200',
        '',
        '# HELP open_carts Carts',
        '# TYPE open_carts gauge',
        'open_carts 30',
        '',
      ].join('\n'),
    );
    const missing = (id: string) =>
      `process ${id}: its process info is missing or not valid; its per-process gauges show pid="0" and hostname="unknown"`;
    expect(warnings).toEqual([
      `Skipped 3 unreadable entries in Redis under prefix "${prefix}": ` +
        `${missing(writers[0].id)}; ${missing(writers[1].id)}; ` +
        'gauge "heap_bytes": 1 series of processes without process info left out (each would show pid="0" and hostname="unknown", as the one of the latest heartbeat does)',
    ]);
  });
});
