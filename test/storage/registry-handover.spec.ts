import { Counter, Registry } from 'prom-client';

import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from '../../src/index.js';
import { FailingStore, type Failure } from '../harness/failing-store.js';
import { useTestRedis } from '../harness/test-redis.js';

// Managers of one registry in turn in one process (an app closed and started again) hand over what
// their flusher delivered: the next goes on from what the totals hold of the registry, counting it once.
describe('the handover between flushers of one registry', () => {
  const redis = useTestRedis();

  it.each<[string, Failure]>([
    ['never reached Redis', 'before'],
    ['was applied with its reply lost', 'after'],
  ])(
    'goes on from what a flusher took over when its first write, loading it, %s',
    async (_, failure) => {
      const prefix = redis.prefix('handover');
      const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
      const registry = new Registry();
      const counter = new Counter({ name: 'handed_total', help: 'Handed', registers: [registry] });
      const flusher = () =>
        new MetricsFlusher({
          store,
          identity: ProcessIdentity.create(),
          registry,
          intervalMs: 60_000,
          gaugeModeOf: () => 'all',
        });
      const total = () => redis.client.hget(`{${prefix}}:totals`, '["handed_total",{}]');

      // The first app counts 1 and ends.
      const first = flusher();
      counter.inc();
      expect((await first.flush()).ok).toBe(true);
      const fromFirst = first.delivered();
      await first.end();
      // The second takes it over; its load of it fails, and it stops without waiting any longer.
      const second = flusher();
      second.startFrom(fromFirst!);
      store.plan.push({ call: 'base-write', failure });
      expect((await second.flush()).ok).toBe(false);
      const fromSecond = second.delivered();
      second.abandon();
      // The third counts on from the registry's 1: nothing was handed over before, and it counted 2.
      const third = flusher();
      if (fromSecond) third.startFrom(fromSecond);
      counter.inc();
      expect(await third.flush()).toMatchObject({ ok: true, repaired: undefined });

      expect(await total()).toBe('v 2');
    },
  );
});
