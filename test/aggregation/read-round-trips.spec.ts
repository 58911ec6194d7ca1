import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { RedisMetricsStore, RedisMultiProcessCollector } from '../../src/index.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';
import { storeFlusher } from '../harness/test-flusher.js';
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

  // Every refused command is an entry in the ACL LOG and a count in acl_access_denied_cmd, which
  // operators watch: a scrape by a user without INFO must not add one each time.
  it('asks an ACL user without INFO for the run id once, not at each scrape', async () => {
    await client.call(
      'ACL',
      'SETUSER',
      'no-info',
      'on',
      '>no-info-pw',
      '~*',
      '&*',
      '+@all',
      '-info',
    );
    const url = new URL(redis.url);
    url.username = 'no-info';
    url.password = 'no-info-pw';
    const limited = new Redis(url.toString(), { enableReadyCheck: false });
    try {
      // 3,000 series: the totals take two HSCAN calls, after which a read checks its server.
      const registry = new Registry();
      const counter = new Counter({
        name: 'acl_total',
        help: 'Many series',
        labelNames: ['i'],
        registers: [registry],
      });
      for (let i = 0; i < 3000; i += 1) counter.inc({ i: String(i) }, 1);
      const flusher = storeFlusher(new RedisMetricsStore(limited, 'acl-info'), registry);
      expect((await flusher.flush())?.ok).toBe(true);
      await flusher.stop();
      await client.call('ACL', 'LOG', 'RESET');
      const collector = new RedisMultiProcessCollector({ client: limited, keyPrefix: 'acl-info' });

      const scrapes = [await collector.collect(), await collector.collect()];

      const log = (await client.call('ACL', 'LOG')) as unknown[][];
      const entries = log.map((entry) => {
        const fields = new Map<unknown, unknown>();
        for (let i = 0; i < entry.length; i += 2) fields.set(entry[i], entry[i + 1]);
        return [fields.get('object'), fields.get('username'), fields.get('count')];
      });
      expect(entries).toEqual([['info', 'no-info', 1]]);
      expect(scrapes.map((families) => families[0].samples.length)).toEqual([3000, 3000]);
    } finally {
      limited.disconnect();
    }
  });
});
