import { Histogram, Registry } from 'prom-client';

import { RedisMultiProcessCollector } from '../../src/index.js';
import { promtoolCheck } from '../harness/promtool.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

// During a rolling deploy that changed a histogram's buckets, old and new processes write the same
// series with different bounds. Summed at a bound only some of them have, a cumulative count would miss
// the others' observations below it: the scrape shows the bounds they share, each exact.
describe('processes whose histogram buckets differ', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('bucket-layouts');

  function processWith(buckets: number[], observations: number[]) {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'lookup_seconds',
      help: 'Lookups',
      buckets,
      registers: [registry],
    });
    for (const value of observations) histogram.observe(value);
    return { histogram, flusher: testFlusher(redis.client, prefix, registry) };
  }

  it('are served at the bounds they all have, each exact, and the exposition is valid', async () => {
    // Binary fractions, so that the sums are exact.
    const before = processWith([0.125, 0.5, 1], [0.0625, 0.25, 0.75, 2]);
    const after = processWith([0.25, 0.5, 2], [0.1875, 0.375, 1.5]);
    expect((await before.flusher.flush()).ok).toBe(true);
    expect((await after.flusher.flush()).ok).toBe(true);
    // The old process counts on after the new one came: still summed at the shared bounds only.
    before.histogram.observe(0.4375);
    expect((await before.flusher.flush()).ok).toBe(true);

    const text = await new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
    }).metrics();

    expect(text).toBe(
      [
        '# HELP lookup_seconds Lookups',
        '# TYPE lookup_seconds histogram',
        // At or below 0.5: 0.0625, 0.25 and 0.4375 of the old process, 0.1875 and 0.375 of the new one.
        'lookup_seconds_bucket{le="0.5"} 5',
        'lookup_seconds_bucket{le="+Inf"} 8',
        'lookup_seconds_sum 5.5625',
        'lookup_seconds_count 8',
        '',
      ].join('\n'),
    );
    expect(promtoolCheck(text)).toBe('');
  });
});
