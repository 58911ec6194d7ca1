import { Counter, Registry } from 'prom-client';

import { PrefixKeys, ProcessIdentity, RedisMetricsStore } from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

/**
 * Version 0.1.0 indexed its processes in the same sorted set as this version but kept their series in
 * `{prefix}:values:<id>` hashes, which no scrape reads now. Sharing a prefix during a rolling upgrade
 * loses their counts from every scrape: a scrape says so rather than serve the sum of half the
 * processes without a word.
 */
describe('a process of version 0.1.0 under the same prefix', () => {
  const redis = useTestRedis();

  it('is named in the scrape warning, with what to do; the series of this version are served', async () => {
    const prefix = redis.prefix('v01');
    const keys = new PrefixKeys(prefix);
    const tag = `{${prefix}}`;
    // What a 0.1.0 process wrote (docs/redis-layout.md of that version): its index entry, its info,
    // its own values hash, and the metadata.
    const oldId = 'web-1/7/0123456789ab';
    const now = Number((await redis.client.time())[0]) * 1000;
    await redis.client.zadd(keys.processes, now, oldId);
    await redis.client.hset(
      keys.processInfo,
      oldId,
      JSON.stringify({ pid: 7, hostname: 'web-1', startedAt: now }),
    );
    await redis.client.hset(`${tag}:values:${oldId}`, '["jobs_total","jobs_total",{}]', `5 ${now}`);
    await redis.client.hset(keys.metadata, 'jobs_total', '{"type":"counter","help":"Jobs"}');

    const registry = new Registry();
    new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] }).inc(3);
    await testFlusher(redis.client, prefix, registry, {
      identity: ProcessIdentity.create({ hostname: 'web-2', pid: 8 }),
    }).flush();
    const { collector, warnings } = collectorKeepingWarnings({
      store: new RedisMetricsStore(redis.client, prefix),
    });

    const lines = (await collector.metrics()).split('\n').filter((l) => l.startsWith('jobs'));

    expect(lines).toEqual(['jobs_total 3']);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": process ${oldId} is indexed but holds nothing this version reads: a process of nestjs-redis-metrics 0.1.0 writing under the same prefix (its series are not merged; give each version its own keyPrefix), or its keys were evicted or deleted`,
    ]);
  });
});
