import { Counter, Registry } from 'prom-client';

import {
  MemoryMetricsStore,
  PrefixKeys,
  RedisStorageManager,
  type MetricsStore,
} from '../../src/index.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The shared totals keep a counter's series for as long as Redis keeps them, across restarts and
 * deploys: a series nobody counts any more is served with its last count by every scrape until it is
 * deleted.
 */
describe('RedisStorageManager.deleteCounts', () => {
  const redis = useTestRedis();

  function manager(registry: Registry, store?: MetricsStore) {
    return new RedisStorageManager(
      {
        url: testRedisUrl(),
        keyPrefix: redis.prefix('delete-counts'),
        registry,
        store,
        defaultMetrics: false,
        httpMetrics: false,
        freshScrapeWaitMs: 0,
      },
      quiet,
    );
  }

  /** `orders_total` of two shops: 4 orders in `north`, 9 in `closed`. */
  function shopOrders(registry: Registry) {
    const orders = new Counter({
      name: 'orders_total',
      help: 'Orders',
      labelNames: ['shop'],
      registers: [registry],
    });
    orders.inc({ shop: 'north' }, 4);
    orders.inc({ shop: 'closed' }, 9);
    return orders;
  }

  it('deletes one series or a whole metric; a process still counting goes on from about zero', async () => {
    const registry = new Registry();
    const orders = shopOrders(registry);
    const refunds = new Counter({ name: 'refunds_total', help: 'Refunds', registers: [registry] });
    refunds.inc(2);
    const storage = manager(registry);
    const lines = async () =>
      (await storage.metrics()).body.split('\n').filter((l) => /^(orders|refunds)_total/.test(l));
    try {
      expect(await storage.setup()).toBe(true);
      expect(await lines()).toEqual([
        'orders_total{shop="closed"} 9',
        'orders_total{shop="north"} 4',
        'refunds_total 2',
      ]);

      // The shop closed: its series goes (this process drops it too, or it would come back).
      orders.remove({ shop: 'closed' });
      expect(await storage.deleteCounts('orders_total', { shop: 'closed' })).toBe(1);
      expect(await lines()).toEqual(['orders_total{shop="north"} 4', 'refunds_total 2']);

      // A whole metric; this process still counts it, and goes on from its count at the time.
      expect(await storage.deleteCounts('refunds_total')).toBe(1);
      expect(await lines()).toEqual(['orders_total{shop="north"} 4']);
      refunds.inc(1);
      await storage.flush();
      expect(await lines()).toEqual(['orders_total{shop="north"} 4', 'refunds_total 1']);
    } finally {
      await storage.teardown();
    }
  });

  it('deletes counts when the exemplars key holds another type, which holds no exemplar of the module', async () => {
    const registry = new Registry();
    const orders = shopOrders(registry);
    const storage = manager(registry);
    const keys = new PrefixKeys(storage.options.keyPrefix);
    try {
      expect(await storage.setup()).toBe(true);
      // Something else wrote the key; the next write of a process deletes it.
      await redis.client.set(keys.exemplars, 'not a hash');
      orders.remove({ shop: 'closed' });

      expect(await storage.deleteCounts('orders_total', { shop: 'closed' })).toBe(1);
      expect(await storage.deleteCounts('orders_total')).toBe(1);
      expect(await redis.client.get(keys.exemplars)).toBe('not a hash');
      // Bookkeeping alone is left: the process's marker and the totals' stamp.
      expect((await redis.client.hkeys(keys.totals)).sort()).toEqual([
        '#born',
        expect.stringMatching(/^#p:/) as unknown as string,
      ]);
    } finally {
      await storage.teardown();
    }
  });

  it('says which store cannot delete counts', async () => {
    // A store of the app's own, over the module's memory store, that has no deleteSeries().
    const memory = new MemoryMetricsStore();
    const storage = manager(new Registry(), {
      description: 'my store',
      write: (identity, batch) => memory.write(identity, batch),
      rebase: (identity, request) => memory.rebase(identity, request),
      end: (processId, staleAfterMs) => memory.end(processId, staleAfterMs),
      read: (options) => memory.read(options),
      processIndex: () => memory.processIndex(),
    });
    try {
      await expect(storage.deleteCounts('orders_total')).rejects.toThrow(
        'my store cannot delete counts: its store has no deleteSeries()',
      );
    } finally {
      await storage.teardown();
    }
  });
});
