import {
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  seriesField,
} from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';

// Heartbeats are Redis TIME: one of +inf, or a day ahead of Redis' clock, was written by something
// else under the prefix. It kept its process live for ever (health counted it, live gauge modes served
// it) and no write ever reaped it.
describe('a heartbeat too far ahead of the store clock to be one', () => {
  const redis = useTestRedis();

  it('is not live, is named in the scrape warning, and is reaped at the next write', async () => {
    const prefix = redis.prefix('impossible-heartbeat');
    const keys = new PrefixKeys(prefix);
    const store = new RedisMetricsStore(redis.client, prefix);
    const writers = [1, 2, 3].map((pid) => ProcessIdentity.create({ hostname: 'web', pid }));
    for (const [i, writer] of writers.entries()) {
      await store.write(writer, {
        expectedSeq: 0,
        seq: 1,
        metadata: [['open_carts', { type: 'gauge', help: 'Carts', mode: 'livesum' }]],
        gauges: [[seriesField('open_carts', {}), { value: 10 ** i, timestamp: 1000 }]],
      });
    }
    const [seconds] = await redis.client.time();
    const dayAhead = Number(seconds) * 1000 + 86_400_000;
    await redis.client.zadd(keys.processes, '+inf', writers[1].id);
    await redis.client.zadd(keys.processes, dayAhead, writers[2].id);

    const warnings: string[] = [];
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
      logger: { warn: (message) => warnings.push(message) },
    });
    expect(await collector.metrics()).toBe(
      '# HELP open_carts Carts\n# TYPE open_carts gauge\nopen_carts 1\n',
    );
    const ahead = (id: string, heartbeat: number) =>
      `process ${id}: its heartbeat ${heartbeat} is more than 60000 ms ahead of the store's clock, not a time of it; counted as not live, and ended at a next write`;
    // The index is ordered by heartbeat: the day ahead, then +inf.
    expect(warnings).toEqual([
      `Skipped 2 unreadable entries in Redis under prefix "${prefix}": ` +
        `${ahead(writers[2].id, dayAhead)}; ${ahead(writers[1].id, Infinity)}`,
    ]);

    // A write counts the first writer alone live, and names the other two as stale.
    const reply = await store.write(writers[0], {
      expectedSeq: 1,
      seq: 2,
      staleAfterMs: 30_000,
      livenessWindowMs: 5000,
    });
    expect(reply.live).toBe(1);
    expect([...reply.stale].sort()).toEqual([writers[1].id, writers[2].id].sort());
    // And the end script, which checks the heartbeat again, ends them.
    expect(await store.end(writers[1].id, 30_000)).toBe('ended');
    expect(await store.end(writers[2].id, 30_000)).toBe('ended');
    expect(await redis.client.zrange(keys.processes, '0', '-1')).toEqual([writers[0].id]);
  });
});
