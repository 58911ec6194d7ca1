import { Redis } from 'ioredis';

import { RedisMultiProcessCollector } from '../../src/index.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';
import { startWriter, type Writer } from '../harness/writer-processes.js';

describe('scrape cost in Redis commands, on a private Redis', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let client: Redis;
  const writers: Writer[] = [];

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    await Promise.all(writers.map((w) => w.kill('SIGKILL')));
    client.disconnect();
    await redis.stop();
  });

  it('collects 8 processes x 900 series from the totals: one small script, bounded HSCANs, no KEYS or SCAN, no per-process counters', async () => {
    for (let i = 0; i < 8; i += 1) {
      writers.push(
        await startWriter(
          'cost',
          { wide: { name: 'wide_total', series: 900 } },
          { REDIS_URL: redis.url },
        ),
      );
    }
    // Stop their heartbeats so only the scrape shows up in the statistics.
    await Promise.all(writers.map((w) => w.kill('SIGKILL')));
    const collector = new RedisMultiProcessCollector({
      client,
      keyPrefix: 'cost',
      livenessWindowMs: 60_000,
    });
    // The first call on a server loads the script (EVALSHA answers NOSCRIPT, then EVAL); measure after.
    await collector.collect();
    await client.config('RESETSTAT');

    const families = await collector.collect();

    const info = await client.info('commandstats');
    const calls = Object.fromEntries(
      [...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]),
    );
    // One EVALSHA (TIME, ZRANGE of the index, HGETALL of process info and metadata ran inside it,
    // INFO server for the server's run id and HGET of the totals' stamp), one HSCAN of the totals (900 series and 8 markers fit
    // one call of 2,000) and one of each process's gauges hash. Nothing reads a process's counters.
    expect(calls).toEqual({
      'config|resetstat': 1,
      evalsha: 1,
      info: 1,
      hget: 1,
      time: 1,
      zrange: 1,
      hgetall: 2,
      hscan: 1 + 8,
    });
    expect(families).toHaveLength(1);
    expect(families[0].samples).toHaveLength(900);
    expect(families[0].samples.every((s) => s.value === 8)).toBe(true);
  });
});
