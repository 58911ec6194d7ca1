import {
  MergedScrapeUnavailableError,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
} from '../../src/index.js';
import { useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

// Totals no writer of this module makes, written under the prefix by something else: a scrape leaves
// out each such series, says which and why, and serves every other series exactly.
describe('a scrape of totals no writer could have made', () => {
  const redis = useTestRedis();

  /**
   * A prefix where one process counted `jobs_total{kind="ok"} 5` and observed `wait_seconds` (buckets
   * 0.1 and 1) three times, then `totals` (field -> text) written into its totals hash by hand.
   * @returns the scrape's text and the warnings it logged.
   */
  async function scrapeWith(totals: Record<string, string>) {
    const prefix = redis.prefix('bad-totals');
    const store = new RedisMetricsStore(redis.client, prefix);
    await store.write(ProcessIdentity.create({ hostname: 'h', pid: 7 }), {
      expectedSeq: 0,
      seq: 1,
      metadata: [
        ['jobs_total', { type: 'counter', help: 'Jobs' }],
        ['wait_seconds', { type: 'histogram', help: 'Wait' }],
        ['size_bytes', { type: 'summary', help: 'Size' }],
      ],
      counters: [
        [seriesField('jobs_total', { kind: 'ok' }), 'v 5'],
        [seriesField('wait_seconds', { kind: 'ok' }), 'c 3 s 2.5 0.1 1 1 2 +Inf 3'],
      ],
    });
    for (const [field, text] of Object.entries(totals)) {
      await redis.client.hset(new PrefixKeys(prefix).totals, field, text);
    }
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });
    return { text: await collector.metrics(), warnings, prefix };
  }

  /** The exposition of the two series the process wrote, and nothing else. */
  const GOOD = [
    '# HELP jobs_total Jobs',
    '# TYPE jobs_total counter',
    'jobs_total{kind="ok"} 5',
    '',
    '# HELP wait_seconds Wait',
    '# TYPE wait_seconds histogram',
    'wait_seconds_bucket{kind="ok",le="0.1"} 1',
    'wait_seconds_bucket{kind="ok",le="1"} 2',
    'wait_seconds_bucket{kind="ok",le="+Inf"} 3',
    'wait_seconds_sum{kind="ok"} 2.5',
    'wait_seconds_count{kind="ok"} 3',
    '',
  ].join('\n');

  it('leaves out a total that gives a slot twice, which holds two numbers for one', async () => {
    const twice = seriesField('jobs_total', { kind: 'twice' });

    const { text, warnings, prefix } = await scrapeWith({ [twice]: 'v 1 v 2' });

    expect(text).toBe(GOOD);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": totals: value of ${twice} is not readable`,
    ]);
  });

  it.each([
    ['jobs_total', 'v -5', 'v is -5, a count below 0'],
    ['size_bytes', 'c -2 s 3', 'c is -2, a count below 0'],
    ['wait_seconds', 'c 3 s 2.5 0.1 -1 1 2 +Inf 3', '0.1 is -1, a count below 0'],
    [
      'wait_seconds',
      'c 3 s 2.5 0.1 5 1 2 +Inf 3',
      'buckets are not cumulative: le="1" holds 2, le="0.1" below it 5',
    ],
    ['wait_seconds', 'c 3 s 2.5 0.1 1 1 2 +Inf 5', 'bucket le="+Inf" holds 5 but the count is 3'],
    ['wait_seconds', 'c 3 s 2.5 abc 1 +Inf 3', 'bucket le="abc" is not a number'],
    ['wait_seconds', 'c 3 s 2.5 0x10 1 +Inf 3', 'bucket le="0x10" is not a number'],
    [
      'wait_seconds',
      'c 3 s 2.5 0.1 1 .1 1 +Inf 3',
      'buckets le="0.1" and le=".1" are the same bound',
    ],
  ])('leaves out a %s total %s, saying why', async (metric, stored, problem) => {
    const field = seriesField(metric, { kind: 'bad' });

    const { text, warnings, prefix } = await scrapeWith({ [field]: stored });

    expect(text).toBe(GOOD);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": "${metric}" [["kind","bad"]]: ${problem}`,
    ]);
  });

  it('serves a summary whose sum is below 0, which negative observations make', async () => {
    const field = seriesField('size_bytes', { kind: 'credit' });

    const { text, warnings } = await scrapeWith({ [field]: 'c 2 s -3.5' });

    // Families come in order of their names: between jobs_total and wait_seconds.
    const summary = [
      '# HELP size_bytes Size',
      '# TYPE size_bytes summary',
      'size_bytes_sum{kind="credit"} -3.5',
      'size_bytes_count{kind="credit"} 2',
      '',
      '',
    ].join('\n');
    expect(text).toBe(GOOD.replace('# HELP wait_seconds', `${summary}# HELP wait_seconds`));
    expect(warnings).toEqual([]);
  });

  it('leaves out another spelling of a series field, which would serve its series twice', async () => {
    const zoned = seriesField('wait_seconds', { zone: 'a', kind: 'ok' });
    // The labels in another order, and a space: read as the series of `zoned` and jobs_total{kind="ok"}.
    const reordered = '["wait_seconds",{"zone":"a","kind":"ok"}]';
    const spaced = '["jobs_total", {"kind":"ok"}]';

    const { text, warnings, prefix } = await scrapeWith({
      [zoned]: 'c 1 s 0.5 0.1 0 1 1 +Inf 1',
      [reordered]: 'c 7 s 9 0.1 7 1 7 +Inf 7',
      [spaced]: 'v 9',
    });

    expect(zoned).toBe('["wait_seconds",{"kind":"ok","zone":"a"}]');
    expect(text).toBe(
      // Series come in order of their labels: {kind="ok",zone="a"} before {kind="ok"}.
      GOOD.replace(
        'wait_seconds_bucket{kind="ok",le="0.1"}',
        [
          'wait_seconds_bucket{kind="ok",zone="a",le="0.1"} 0',
          'wait_seconds_bucket{kind="ok",zone="a",le="1"} 1',
          'wait_seconds_bucket{kind="ok",zone="a",le="+Inf"} 1',
          'wait_seconds_sum{kind="ok",zone="a"} 0.5',
          'wait_seconds_count{kind="ok",zone="a"} 1',
          'wait_seconds_bucket{kind="ok",le="0.1"}',
        ].join('\n'),
      ),
    );
    // A small hash is scanned in the order its fields were written.
    expect(warnings).toEqual([
      `Skipped 2 unreadable entries in Redis under prefix "${prefix}": ` +
        `totals: field ${JSON.stringify(reordered)} is not a series; ` +
        `totals: field ${JSON.stringify(spaced)} is not a series`,
    ]);
  });

  /** Redis' clock, in ms. */
  async function redisNowMs(): Promise<number> {
    const [seconds, micros] = await redis.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  it('ignores a #lost-at that is no time, or a day ahead of the clock, which would fail every scrape till then', async () => {
    const dayAhead = String((await redisNowMs()) + 86_400_000);

    const notATime = await scrapeWith({ '#lost-at': 'yesterday' });
    const ahead = await scrapeWith({ '#lost-at': dayAhead });

    expect(notATime.text).toBe(GOOD);
    expect(notATime.warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${notATime.prefix}": totals: #lost-at is not a time; ignored`,
    ]);
    expect(ahead.text).toBe(GOOD);
    expect(ahead.warnings).toHaveLength(1);
    expect(ahead.warnings[0]).toMatch(
      new RegExp(
        `^Skipped 1 unreadable entry in Redis under prefix "${ahead.prefix}": totals: #lost-at is 8639\\d{4} ms ahead of the store's clock, not the time of a loss; ignored$`,
      ),
    );
  });

  it('names what it left out on one line, whatever control characters the names hold', async () => {
    // A metric name is a hash field of the metadata, read as it is.
    const forged = 'x\n[Nest] 1  - 11/27/2026, 9:00:00 PM     LOG all is well\u0007';
    const prefix = redis.prefix('bad-names');
    await new RedisMetricsStore(redis.client, prefix).write(
      ProcessIdentity.create({ hostname: 'h', pid: 7 }),
      {
        expectedSeq: 0,
        seq: 1,
        metadata: [['jobs_total', { type: 'counter', help: 'Jobs' }]],
        counters: [[seriesField('jobs_total', {}), 'v 5']],
      },
    );
    const keys = new PrefixKeys(prefix);
    await redis.client.hset(keys.metadata, forged, JSON.stringify({ type: 'counter', help: 'F' }));
    await redis.client.hset(keys.totals, seriesField(forged, {}), 'v 1');
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    expect(await collector.metrics()).toBe(
      ['# HELP jobs_total Jobs', '# TYPE jobs_total counter', 'jobs_total 5', ''].join('\n'),
    );
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": ` +
        '"x\\n[Nest] 1  - 11/27/2026, 9:00:00 PM     LOG all is well\\u0007" is not a valid Prometheus metric name',
    ]);
  });

  it('still waits for a #lost-at a little ahead, as a clock that stepped back since the loss leaves it', async () => {
    const ahead = String((await redisNowMs()) + 100);

    const scrape = scrapeWith({ '#lost-at': ahead });

    await expect(scrape).rejects.toThrow(MergedScrapeUnavailableError);
    // Found after the read took the store's time: said as just now, not as "-100 ms ago".
    await expect(scrape).rejects.toThrow(
      /^Redis under prefix "[^"]+" lost data just now; live processes are writing their counts again \(ready in \d+ ms\)$/,
    );
  });
});
