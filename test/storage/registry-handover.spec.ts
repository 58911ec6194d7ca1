import { Redis, type RedisOptions } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { ProcessIdentity, RedisMetricsStore, type MetricsFlusher } from '../../src/index.js';
import { FailingStore, type Failure } from '../harness/failing-store.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';
import { leaveDelivered, takeDelivered } from '../../src/storage/registry-handover.js';
import { storeFlusher, testFlusher } from '../harness/test-flusher.js';
import { deletePrefix, useTestRedis } from '../harness/test-redis.js';

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
      const flusher = () => storeFlusher(store, registry);
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

  /**
   * A counter by `queue` named `name` in `registry`, flushers of it under `prefix`, a total by the text
   * of its labels, and a first app that counted 2 for queue a and 5 for b, then moved every series to
   * zone z1 (the default labels) and counted 1 more for a there.
   */
  async function movedUnderFirstApp(prefix: string, name: string, registry = new Registry()) {
    const counter = new Counter({
      name,
      help: 'Moving',
      labelNames: ['queue'],
      registers: [registry],
    });
    const flusher = () => testFlusher(redis.client, prefix, registry);
    const total = (labels: string) =>
      redis.client.hget(`{${prefix}}:totals`, `[${JSON.stringify(name)},{${labels}}]`);
    const first = flusher();
    counter.inc({ queue: 'a' }, 2);
    counter.inc({ queue: 'b' }, 5);
    expect((await first.flush()).ok).toBe(true);
    registry.setDefaultLabels({ zone: 'z1' });
    counter.inc({ queue: 'a' });
    expect((await first.flush()).ok).toBe(true);
    /** The next app goes on from `from`: every series comes back to no default labels, a counts 4 more. */
    const comesBack = async (from: Parameters<MetricsFlusher['startFrom']>[0]) => {
      const next = flusher();
      next.startFrom(from);
      expect((await next.flush()).ok).toBe(true);
      registry.setDefaultLabels({});
      counter.inc({ queue: 'a' }, 4);
      expect((await next.flush()).ok).toBe(true);
      return next;
    };
    return { registry, counter, flusher, total, first, comesBack };
  }

  it('counts a series once that left its field under the earlier flusher and comes back under the next', async () => {
    const prefix = redis.prefix('handover-back');
    // The first app counts 2; the series moves to another field (default labels) and counts 1 more.
    const { registry, flusher, total, first, comesBack } = await movedUnderFirstApp(
      prefix,
      'handed_back_total',
    );
    const fromFirst = first.delivered();
    await first.end();
    // The next app on the registry: the series comes back and counts 4 more.
    const second = await comesBack(fromFirst!);

    expect(await total('"queue":"a"')).toBe('v 7');
    expect(await total('"queue":"a","zone":"z1"')).toBe('v 3');
    expect(await total('"queue":"b"')).toBe('v 5');
    expect(await total('"queue":"b","zone":"z1"')).toBe('v 5');

    // A third app, after Redis lost everything (restarted empty), counts the series whole.
    const fromSecond = second.delivered();
    await second.end();
    await deletePrefix(redis.client, prefix);
    registry.setDefaultLabels({ zone: 'z1' });
    const third = flusher();
    third.startFrom(fromSecond!);
    expect((await third.flush()).ok).toBe(true);
    registry.setDefaultLabels({});
    expect((await third.flush()).ok).toBe(true);
    expect(await total('"queue":"a"')).toBe('v 7');
  });

  // The manager hands over through leaveDelivered() and takeDelivered(), which keeps only the metrics
  // whose series the registry still holds: the fields series left must go with it.
  it('counts a series once that left its field under the earlier manager and comes back under the next, through the handover a manager keeps', async () => {
    const prefix = redis.prefix('handover-kept');
    const place = `handover-kept ${prefix}`;
    const { registry, total, first, comesBack } = await movedUnderFirstApp(
      prefix,
      'kept_back_total',
    );
    leaveDelivered(registry, place, first.delivered()!);
    await first.end();
    await comesBack(takeDelivered(registry, place)!);

    expect(await total('"queue":"a"')).toBe('v 7');
    expect(await total('"queue":"a","zone":"z1"')).toBe('v 3');
  });

  it('counts a series once that comes back under a third flusher after series moved again under the second', async () => {
    const prefix = redis.prefix('handover-twice');
    const registry = new Registry();
    const other = new Counter({ name: 'other_total', help: 'Other', registers: [registry] });
    // The first app counts 2 under no default labels, the series moves and counts 1 more.
    const { flusher, total, first, comesBack } = await movedUnderFirstApp(
      prefix,
      'twice_back_total',
      registry,
    );
    const fromFirst = first.delivered();
    await first.end();
    // The second app: the series, and one of another metric, move again (the default labels change).
    const second = flusher();
    second.startFrom(fromFirst!);
    expect((await second.flush()).ok).toBe(true);
    other.inc();
    expect((await second.flush()).ok).toBe(true);
    registry.setDefaultLabels({ zone: 'z2' });
    expect((await second.flush()).ok).toBe(true);
    const fromSecond = second.delivered();
    await second.end();
    // The third app: the first series comes back to its first field and counts 4 more.
    await comesBack(fromSecond!);

    expect(await total('"queue":"a"')).toBe('v 7');
    expect(await total('"queue":"a","zone":"z1"')).toBe('v 3');
    expect(await total('"queue":"a","zone":"z2"')).toBe('v 3');
  });

  // A write of the earlier flusher still on its way when the next one ends that flusher's process (a
  // client that sends it again after a reconnection, or out of its place after a redirection) must
  // not be applied: the next one goes on from what the totals held when it ended the process.
  it("counts once when the earlier flusher's first write reaches Redis after the next one ended its process", async () => {
    const prefix = redis.prefix('late-first-write');
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const registry = new Registry();
    const counter = new Counter({ name: 'late_total', help: 'Late', registers: [registry] });

    // The first app counts 1; its first write is held back, and the app stops without its reply.
    const first = storeFlusher(store, registry);
    counter.inc();
    store.plan.push({ call: 'write', failure: 'late' });
    const firstFlush = first.flush();
    await store.holding();
    const fromFirst = first.delivered();
    first.abandon();
    // The next app counts 2; once its write is answered, the first app's write reaches Redis.
    const identity = ProcessIdentity.create();
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), log: () => undefined };
    const second = storeFlusher(store, registry, { identity, logger });
    second.startFrom(fromFirst!);
    counter.inc();
    expect((await second.flush()).ok).toBe(true);
    expect(await firstFlush).toMatchObject({ ok: false, sent: 0 });
    // Nothing Redis held was lost: no line says so.
    expect(warnings).toEqual([]);

    expect(await redis.client.hget(`{${prefix}}:totals`, '["late_total",{}]')).toBe('v 2');
    expect((await store.processIndex()).processes.map(({ id }) => id)).toEqual([identity.id]);
  });

  // The next flusher ends the earlier one's process on purpose: when the abandoned flusher hears its
  // write refused, Redis lost nothing, and it repairs nothing.
  it('says nothing of lost data or of a repair from an abandoned flusher whose late write the next one fenced off', async () => {
    const prefix = redis.prefix('abandoned-refused');
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const registry = new Registry();
    new Counter({ name: 'fenced_total', help: 'Fenced', registers: [registry] }).inc();
    const warnings: string[] = [];
    const logger = { warn: (line: string) => warnings.push(line), log: () => undefined };

    const first = storeFlusher(store, registry, { logger });
    store.plan.push({ call: 'write', failure: 'late' });
    const firstFlush = first.flush();
    await store.holding();
    const fromFirst = first.delivered();
    first.abandon();
    const second = storeFlusher(store, registry);
    second.startFrom(fromFirst!);
    expect((await second.flush()).ok).toBe(true);

    expect(await firstFlush).toMatchObject({ ok: false, sent: 0 });
    expect(warnings).toEqual([
      `Flushing metrics to Redis under prefix "${prefix}" failed while this process stopped flushing, and is not retried: this process stopped writing to the metrics storage (its shutdown ran out of time)`,
    ]);
  });

  it("leaves the earlier flusher's process out of the index when its load of what it took over reaches Redis after the next one ended it", async () => {
    const prefix = redis.prefix('late-load');
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const registry = new Registry();
    const counter = new Counter({ name: 'loaded_total', help: 'Loaded', registers: [registry] });

    // The first app counts 1 and ends; the second takes it over, its load is held back, and it stops.
    const first = storeFlusher(store, registry);
    counter.inc();
    expect((await first.flush()).ok).toBe(true);
    const fromFirst = first.delivered();
    await first.end();
    const second = storeFlusher(store, registry);
    second.startFrom(fromFirst!);
    store.plan.push({ call: 'base-write', failure: 'late' });
    const secondFlush = second.flush();
    await store.holding();
    const fromSecond = second.delivered();
    second.abandon();
    // The third counts 2; once its own load is answered, the second's load reaches Redis.
    const identity = ProcessIdentity.create();
    const third = storeFlusher(store, registry, { identity });
    third.startFrom(fromSecond!);
    counter.inc();
    expect((await third.flush()).ok).toBe(true);
    expect(await secondFlush).toMatchObject({ ok: false, sent: 0 });

    expect(await redis.client.hget(`{${prefix}}:totals`, '["loaded_total",{}]')).toBe('v 2');
    // The second process wrote nothing the totals hold: it is not listed as live.
    expect((await store.processIndex()).processes.map(({ id }) => id)).toEqual([identity.id]);
  });
});

// A Redis paused for writes (CLIENT PAUSE WRITE, as a failover does) still answers reads: a next
// flusher on another connection reads which write of the earlier one the totals hold while that
// flusher's last write waits in Redis, to be applied after the read.
describe('the handover between flushers of one registry, on a private Redis paused for writes', () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  const clients: Redis[] = [];
  const connect = (options: RedisOptions = {}) => {
    const client = new Redis(redis.url, options);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await redis.stop();
  });

  it("counts once when the earlier flusher's unanswered write is applied after the next one read what the totals hold", async () => {
    const prefix = 'paused-handover';
    const admin = connect();
    const registry = new Registry();
    const counter = new Counter({ name: 'paused_total', help: 'Paused', registers: [registry] });
    const flusher = (client: Redis) => testFlusher(client, prefix, registry);

    // The first app counts 1, then 2, whose write waits in the paused Redis when the app closes.
    const first = flusher(connect());
    counter.inc();
    expect((await first.flush()).ok).toBe(true);
    counter.inc();
    await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
    const lastFlush = first.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const fromFirst = first.delivered();
    first.abandon();
    // The next app, with a client of its own, counts 3.
    const second = flusher(connect());
    second.startFrom(fromFirst!);
    counter.inc();
    const secondFlush = await second.flush();
    await lastFlush;

    expect(secondFlush.ok).toBe(true);
    expect(await admin.hget(`{${prefix}}:totals`, '["paused_total",{}]')).toBe('v 3');
  });
  it("counts once when the earlier flusher's first write timed out and is applied after the next one read what the totals hold", async () => {
    const prefix = 'paused-first-write';
    const admin = connect();
    const registry = new Registry();
    const counter = new Counter({ name: 'first_total', help: 'First', registers: [registry] });
    const flusher = (client: Redis) => testFlusher(client, prefix, registry);

    // The first app counts 1; its first write times out in the paused Redis, which applies it later.
    await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
    const first = flusher(connect({ commandTimeout: 100 }));
    counter.inc();
    expect((await first.flush()).ok).toBe(false);
    const fromFirst = first.delivered();
    first.abandon();
    // The next app, with a client of its own, counts 2.
    const second = flusher(connect());
    second.startFrom(fromFirst!);
    counter.inc();
    expect((await second.flush()).ok).toBe(true);

    expect(await admin.hget(`{${prefix}}:totals`, '["first_total",{}]')).toBe('v 2');
  });
});
