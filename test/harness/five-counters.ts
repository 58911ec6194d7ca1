import { Counter, Registry } from 'prom-client';

import {
  decodePacked,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  seriesField,
} from '../../src/index.js';
import { FailingStore } from './failing-store.js';
import { testFlusher } from './test-flusher.js';
import type { SpecRedis } from './test-redis.js';

/**
 * A process with five counters, `jobs_total{n="0"}` to `{n="4"}`, at 10 each, writing under a new
 * prefix through a {@link FailingStore} (so that a test can make chosen calls fail), not flushed yet.
 * `batchWeight` splits its writes: a counter weighs 3, so 6 makes batches of two counters.
 */
export function fiveCounters(redis: SpecRedis, label: string, batchWeight?: number) {
  const prefix = redis.prefix(label);
  const keys = new PrefixKeys(prefix);
  const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
  const registry = new Registry();
  const counter = new Counter({
    name: 'jobs_total',
    help: 'Jobs',
    labelNames: ['n'],
    registers: [registry],
  });
  for (let n = 0; n < 5; n += 1) counter.inc({ n: String(n) }, 10);
  const identity = ProcessIdentity.create();
  const warnings: string[] = [];
  const flusher = testFlusher(redis.client, prefix, registry, {
    store,
    identity,
    batchWeight,
    logger: { warn: (m) => warnings.push(m), log: () => undefined },
  });
  /** What the totals hold of each counter (0: nothing). */
  const totals = async () => {
    const values: number[] = [];
    for (let n = 0; n < 5; n += 1) {
      const text = await redis.client.hget(
        keys.totals,
        seriesField('jobs_total', { n: String(n) }),
      );
      values.push(text === null ? 0 : decodePacked(text)!.get('v')!);
    }
    return values;
  };
  const incrementAll = () => {
    for (let n = 0; n < 5; n += 1) counter.inc({ n: String(n) }, 1);
  };
  return { prefix, keys, store, flusher, identity, counter, totals, warnings, incrementAll };
}
