import type { Redis } from 'ioredis';
import { Counter, Gauge, Registry } from 'prom-client';

import {
  MergedScrapeUnavailableError,
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  seriesField,
} from '../../src/index.js';
import { promtoolCheck } from '../harness/promtool.js';
import { testFlusher } from '../harness/test-flusher.js';
import { connectTestRedis, useTestRedis } from '../harness/test-redis.js';
import { collectorKeepingWarnings } from '../harness/warning-collector.js';

/**
 * A client of the run's Redis that runs `after` (real commands, on another client) once the first
 * HSCAN call of `key` has answered: a key that goes while a scrape reads it in several calls.
 */
function clientThatInterrupts(key: string, after: () => Promise<unknown>): Redis {
  const client = connectTestRedis();
  // A scrape reads hashes as bytes (scanHash).
  const hscan = client.hscanBuffer.bind(client) as (
    ...args: unknown[]
  ) => Promise<[Buffer, Buffer[]]>;
  let interrupted = false;
  Object.assign(client, {
    hscanBuffer: async (...args: unknown[]) => {
      const reply = await hscan(...args);
      if (args[0] === key && !interrupted) {
        interrupted = true;
        await after();
      }
      return reply;
    },
  });
  return client;
}

describe('keys under the prefix that are gone before a scrape or go during it', () => {
  const redis = useTestRedis();
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()));
  });

  /** One process's 5,000 counter series (three HSCAN calls of the totals), flushed. */
  async function manySeries(prefix: string): Promise<void> {
    const registry = new Registry();
    const pages = new Counter({
      name: 'pages_total',
      help: 'Pages',
      labelNames: ['page'],
      registers: [registry],
    });
    for (let i = 0; i < 5000; i += 1) pages.inc({ page: String(i) }, 2);
    await testFlusher(redis.client, prefix, registry).flush();
  }

  /** A counter at 3 in a registry of its own, flushed once under a new prefix. */
  async function ordersCounted(name: string) {
    const prefix = redis.prefix(name);
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(3);
    const flusher = testFlusher(redis.client, prefix, registry);
    const flushed = await flusher.flush();
    return { prefix, keys: new PrefixKeys(prefix), flusher, flushed };
  }

  /** What a scrape says of a totals key that holds another type. */
  const wrongTypeTotals = (prefix: string) =>
    `Redis under prefix "${prefix}" cannot read its totals: their key holds another type than a hash (something other than this module wrote it); live processes replace it and write their counts again at their next flush`;

  it('fails the scrape when the totals are deleted (evicted, expired) during it, rather than serving part of them', async () => {
    const prefix = redis.prefix('totals-gone');
    const keys = new PrefixKeys(prefix);
    await manySeries(prefix);
    const client = clientThatInterrupts(keys.totals, () => redis.client.del(keys.totals));
    clients.push(client);
    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });

    const scrape = collector.metrics();

    await expect(scrape).rejects.toThrow(MergedScrapeUnavailableError);
    await expect(scrape).rejects.toThrow(
      `Redis under prefix "${prefix}" lost its totals while this scrape read them (deleted, evicted or expired); live processes write their counts again at their next flush`,
    );
  });

  it('fails the scrape when the totals are deleted during it and made again by a first write, rather than serving part of each', async () => {
    const prefix = redis.prefix('totals-made-again');
    const keys = new PrefixKeys(prefix);
    await manySeries(prefix);
    // A process that starts meanwhile: its first write expects no markers, so it records no loss.
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(3);
    const starting = testFlusher(redis.client, prefix, registry);
    const client = clientThatInterrupts(keys.totals, async () => {
      await redis.client.del(keys.totals);
      expect((await starting.flush()).ok).toBe(true);
    });
    clients.push(client);
    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });

    // Served, it held about 2,000 of the 5,000 series (those of the first call) and not the new one.
    await expect(collector.metrics()).rejects.toThrow(
      new MergedScrapeUnavailableError(
        `Redis under prefix "${prefix}" lost its totals while this scrape read them (deleted, evicted or expired); live processes write their counts again at their next flush`,
      ),
    );
    expect(await redis.client.hget(keys.totals, seriesField('orders_total', {}))).toBe('v 3');
  });

  it('fails the scrape when the totals are gone though a live process wrote, rather than serving none of its counts', async () => {
    const prefix = redis.prefix('totals-missing');
    const keys = new PrefixKeys(prefix);
    const registry = new Registry();
    new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] }).inc(3);
    new Gauge({ name: 'queue_depth', help: 'Depth', registers: [registry] }).set(1);
    await testFlusher(redis.client, prefix, registry).flush();
    await redis.client.del(keys.totals);
    const collector = new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix });

    await expect(collector.metrics()).rejects.toThrow(
      new MergedScrapeUnavailableError(
        `Redis under prefix "${prefix}" lost its totals before this scrape (deleted, evicted or expired); live processes write their counts again at their next flush`,
      ),
    );
  });

  it('names a totals key that holds another type as such, not as deleted, in the failed scrape and mergeFromRedis; the next flush replaces it', async () => {
    const { prefix, keys, flusher } = await ordersCounted('totals-wrong-type');
    // Something other than the module writes a string on the key.
    await redis.client.set(keys.totals, 'not a hash');
    const collector = new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix });
    const message = wrongTypeTotals(prefix);

    await expect(collector.metrics()).rejects.toThrow(new MergedScrapeUnavailableError(message));
    await expect(RedisMultiProcessCollector.mergeFromRedis(redis.client, prefix)).rejects.toThrow(
      new MergedScrapeUnavailableError(message),
    );
    const flushed = await flusher.flush();
    expect(flushed).toMatchObject({
      ok: true,
      repaired: `Redis no longer holds this process in the totals (restarted empty, flushed, or the key was evicted or deleted); what only Redis held, the counts of processes that ended before, cannot come back; ${keys.totals} held another type and was replaced`,
    });
    expect(await redis.client.type(keys.totals)).toBe('hash');
    // A grace of 0 ms: the count is whole again.
    const families = await RedisMultiProcessCollector.mergeFromRedis(
      redis.client,
      prefix,
      true,
      undefined,
      0,
    );
    expect(families.map(({ samples }) => samples)).toEqual([
      [{ name: 'orders_total', labels: {}, value: 3 }],
    ]);
  });

  it('fails the scrape and mergeFromRedis on a totals key that holds another type when every process that wrote has ended', async () => {
    const { prefix, keys, flusher, flushed } = await ordersCounted('totals-wrong-type-ended');
    expect(flushed.ok).toBe(true);
    // Its counts stay in the totals, which something else then overwrites.
    await flusher.end();
    await redis.client.set(keys.totals, 'not a hash');
    const collector = new RedisMultiProcessCollector({ client: redis.client, keyPrefix: prefix });
    const message = wrongTypeTotals(prefix);

    // Not a scrape without the 3 that the totals held.
    await expect(collector.metrics()).rejects.toThrow(new MergedScrapeUnavailableError(message));
    await expect(RedisMultiProcessCollector.mergeFromRedis(redis.client, prefix)).rejects.toThrow(
      new MergedScrapeUnavailableError(message),
    );
  });

  // The end leaves a tombstone of 0 for a process the totals hold no write of. A process that had a
  // write acknowledged and is ended so (reaped while only paused, or markProcessDead) after the totals
  // were lost holds nothing in them: it counts whole again, as when it was not ended.
  it('counts a process whole again when it was ended as dead while only paused, after the totals were lost', async () => {
    const prefix = redis.prefix('totals-lost-then-ended');
    const keys = new PrefixKeys(prefix);
    const registry = new Registry();
    const orders = new Counter({ name: 'orders_total', help: 'Orders', registers: [registry] });
    orders.inc(3);
    const identity = ProcessIdentity.create();
    const flusher = testFlusher(redis.client, prefix, registry, { identity });
    expect((await flusher.flush()).ok).toBe(true);
    await redis.client.del(keys.totals);
    expect(await new RedisMetricsStore(redis.client, prefix).end(identity.id)).toBe('ended');

    orders.inc();
    const flushed = await flusher.flush();

    expect(flushed).toMatchObject({
      ok: true,
      repaired:
        'Redis no longer held this process in the totals (restarted empty, flushed, or the key was evicted or deleted) when it was ended as dead (no heartbeat for the TTL, or markProcessDead) while it was still running; what only Redis held, the counts of processes that ended before, cannot come back',
    });
    // The loss is marked, so that scrapes wait for other live processes to write theirs again.
    expect(await redis.client.hexists(keys.totals, '#lost-at')).toBe(1);
    expect(await redis.client.hget(keys.totals, '["orders_total",{}]')).toBe('v 4');
  });

  it('fails mergeFromRedis as it fails a scrape, while the totals are gone or being written again, rather than returning them without the lost counts', async () => {
    const { prefix, keys, flusher } = await ordersCounted('merge-totals-missing');
    await redis.client.del(keys.totals);

    const gone = RedisMultiProcessCollector.mergeFromRedis(redis.client, prefix);

    await expect(gone).rejects.toThrow(
      new MergedScrapeUnavailableError(
        `Redis under prefix "${prefix}" lost its totals before this scrape (deleted, evicted or expired); live processes write their counts again at their next flush`,
      ),
    );
    await expect(gone).rejects.toMatchObject({ retryAfterMs: 2500 });
    // The process writes its counts again and marks the loss: other processes may not have yet.
    await flusher.flush();
    const rewriting = RedisMultiProcessCollector.mergeFromRedis(redis.client, prefix);
    await expect(rewriting).rejects.toThrow(MergedScrapeUnavailableError);
    await expect(rewriting).rejects.toThrow(
      new RegExp(
        `^Redis under prefix "${prefix}" lost data \\d+ ms ago; live processes are writing their counts again \\(ready in \\d+ ms\\)$`,
      ),
    );
    // A grace of 0 ms: nothing waits any longer, and the count is whole again.
    const families = await RedisMultiProcessCollector.mergeFromRedis(
      redis.client,
      prefix,
      true,
      undefined,
      0,
    );
    expect(families).toEqual([
      {
        name: 'orders_total',
        help: 'Orders',
        type: 'counter',
        samples: [{ name: 'orders_total', labels: {}, value: 3 }],
      },
    ]);
  });

  /**
   * Processes of pid 1 and 2, each with 3,000 gauge series set to its pid (two HSCAN calls of each
   * process's gauges), flushed under `prefix`.
   */
  async function twoProcessesOfManyGauges(prefix: string): Promise<ProcessIdentity[]> {
    const identities = [1, 2].map((pid) => ProcessIdentity.create({ hostname: 'web', pid }));
    for (const [i, identity] of identities.entries()) {
      const registry = new Registry();
      const open = new Gauge({
        name: 'open_files',
        help: 'Open files',
        labelNames: ['dir'],
        registers: [registry],
      });
      for (let d = 0; d < 3000; d += 1) open.set({ dir: String(d) }, i + 1);
      await testFlusher(redis.client, prefix, registry, { identity }).flush();
    }
    return identities;
  }

  it("leaves out, and names, the gauges of a process whose hash is deleted during the scrape; the other process's are served", async () => {
    const prefix = redis.prefix('gauges-gone');
    const keys = new PrefixKeys(prefix);
    const identities = await twoProcessesOfManyGauges(prefix);
    const gone = keys.gauges(identities[1].id);
    const client = clientThatInterrupts(gone, () => redis.client.del(gone));
    clients.push(client);
    const { collector, warnings } = collectorKeepingWarnings({
      client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();

    const samples = text.split('\n').filter((line) => line.startsWith('open_files{'));
    expect(samples).toHaveLength(3000);
    expect(samples.every((line) => /,pid="1",hostname="web"} 1$/.test(line))).toBe(true);
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": process ${identities[1].id}: its gauges were deleted, evicted or expired while they were read; left out`,
    ]);
    expect(promtoolCheck(text)).toBe('');
  });

  it('leaves out, without a warning, the gauges of a process that ends while the scrape reads them', async () => {
    const prefix = redis.prefix('gauges-ended');
    const keys = new PrefixKeys(prefix);
    const identities = await twoProcessesOfManyGauges(prefix);
    // The second process shuts down gracefully (its end script) between two calls of the scan.
    const ending = identities[1].id;
    const client = clientThatInterrupts(keys.gauges(ending), () =>
      new RedisMetricsStore(redis.client, prefix).end(ending),
    );
    clients.push(client);
    const { collector, warnings } = collectorKeepingWarnings({
      client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();

    const samples = text.split('\n').filter((line) => line.startsWith('open_files{'));
    expect(samples).toHaveLength(3000);
    expect(samples.every((line) => /,pid="1",hostname="web"} 1$/.test(line))).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('names a live process whose gauges hash is gone (deleted, evicted, expired) before the scrape', async () => {
    const prefix = redis.prefix('gauges-missing');
    const keys = new PrefixKeys(prefix);
    const identities = [1, 2].map((pid) => ProcessIdentity.create({ hostname: 'web', pid }));
    for (const [i, identity] of identities.entries()) {
      const registry = new Registry();
      new Gauge({ name: 'queue_depth', help: 'Depth', registers: [registry] }).set(10 * (i + 1));
      await testFlusher(redis.client, prefix, registry, {
        identity,
        gaugeModeOf: () => 'livesum',
      }).flush();
    }
    await redis.client.del(keys.gauges(identities[1].id));
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();

    expect(text).toBe('# HELP queue_depth Depth\n# TYPE queue_depth gauge\nqueue_depth 10\n');
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": process ${identities[1].id}: its gauges hash is missing (deleted, evicted or expired, or the process ended during the scrape); its gauges are left out until its next flush`,
    ]);
  });

  it('names processes whose process info is gone, whose per-process gauges then carry no pid or host name', async () => {
    const prefix = redis.prefix('info-missing');
    const keys = new PrefixKeys(prefix);
    const identity = ProcessIdentity.create({ hostname: 'web', pid: 7 });
    const registry = new Registry();
    new Gauge({ name: 'heap_bytes', help: 'Heap', registers: [registry] }).set(5);
    await testFlusher(redis.client, prefix, registry, { identity }).flush();
    await redis.client.del(keys.processInfo);
    const { collector, warnings } = collectorKeepingWarnings({
      client: redis.client,
      keyPrefix: prefix,
    });

    const text = await collector.metrics();

    expect(text).toBe(
      '# HELP heap_bytes Heap\n# TYPE heap_bytes gauge\nheap_bytes{pid="0",hostname="unknown"} 5\n',
    );
    expect(warnings).toEqual([
      `Skipped 1 unreadable entry in Redis under prefix "${prefix}": process ${identity.id}: its process info is missing or not valid; its per-process gauges show pid="0" and hostname="unknown"`,
    ]);
  });
});
