import { Gauge, Registry } from 'prom-client';

import { RedisMultiProcessCollector, seriesField } from '../../src/index.js';
import { fiveCounters } from '../harness/five-counters.js';
import { testFlusher } from '../harness/test-flusher.js';
import { deletePrefix, keysUnderPrefix, useTestRedis } from '../harness/test-redis.js';

// A repair that loads back what the totals hold of a process may stop half-way: the loading write
// never arrives, the rebase's reply is lost, or a later batch of a long load fails. Whatever the
// point, the counts must end exact, never counted twice.
describe('a repair interrupted half-way still ends exact', () => {
  const redis = useTestRedis();

  /** A process with five counters at 10 each (see five-counters.ts), flushed once. */
  async function counted(batchWeight?: number) {
    const process = fiveCounters(redis, 'interrupted', batchWeight);
    expect((await process.flusher.flush()).ok).toBe(true);
    return process;
  }

  it('the loading write never arrives: the next flush loads before it counts', async () => {
    const { keys, store, flusher, identity, counter, totals } = await counted();
    await redis.client.del(keys.counters(identity.id)); // evicted: the totals must be loaded back
    store.plan.push({ call: 'base-write', failure: 'before' });

    const interrupted = await flusher.flush();
    counter.inc({ n: '0' }, 1);
    const next = await flusher.flush();

    expect(interrupted.ok).toBe(false);
    expect(next.ok).toBe(true);
    expect(await totals()).toEqual([11, 10, 10, 10, 10]);
  });

  it('the rebase is applied and its reply lost: it is taken as applied, and nothing is lost or counted twice', async () => {
    const { keys, store, flusher, identity, counter, totals } = await counted();
    await redis.client.del(keys.counters(identity.id));
    store.plan.push({ call: 'rebase', failure: 'after' });

    const interrupted = await flusher.flush();
    counter.inc({ n: '4' }, 2);
    const next = await flusher.flush();

    expect(interrupted.ok).toBe(false);
    expect(next).toMatchObject({ ok: true, repaired: undefined });
    expect(await totals()).toEqual([10, 10, 10, 10, 12]);
    // Not taken for Redis going back in time: no loss recorded, so scrapes were not held back.
    expect(await redis.client.hget(keys.totals, '#lost-at')).toBeNull();
  });

  it('a load of several batches stops after the first: the rest is loaded at the next flush', async () => {
    // A counter weighs 3: two counters a batch, three batches for five.
    const { keys, store, flusher, identity, counter, totals } = await counted(6);
    await redis.client.del(keys.counters(identity.id));
    // The first base batch goes through; the second never arrives.
    store.plan.push(
      { call: 'base-write', failure: 'pass' },
      { call: 'base-write', failure: 'before' },
    );

    const interrupted = await flusher.flush();
    counter.inc({ n: '2' }, 3);
    const next = await flusher.flush();

    expect(interrupted.ok).toBe(false);
    expect(next.ok).toBe(true);
    expect(await totals()).toEqual([10, 10, 13, 10, 10]);
  });

  // A second loss while a load is unfinished: the previous-values hash, though at the totals' write
  // number, holds only part of what the totals hold, so it cannot be kept.
  it.each([
    ['the loading write never arrived', { call: 'base-write', failure: 'before' }],
    ["the rebase's reply was lost", { call: 'rebase', failure: 'after' }],
  ] as const)(
    'a second loss before the load finished (%s): the load starts over and nothing is counted twice',
    async (_, failure) => {
      const { keys, store, flusher, identity, counter, totals } = await counted();
      await redis.client.del(keys.counters(identity.id));
      store.plan.push(failure);
      expect((await flusher.flush()).ok).toBe(false);

      await redis.client.del(keys.gauges(identity.id));
      counter.inc({ n: '0' }, 1);
      const next = await flusher.flush();

      expect(next.ok).toBe(true);
      expect(await totals()).toEqual([11, 10, 10, 10, 10]);
    },
  );

  it('a load of several batches stopped after the first, then a second loss: nothing counted twice', async () => {
    const { keys, store, flusher, identity, counter, totals } = await counted(6);
    await redis.client.del(keys.counters(identity.id));
    store.plan.push(
      { call: 'base-write', failure: 'pass' },
      { call: 'base-write', failure: 'before' },
    );
    expect((await flusher.flush()).ok).toBe(false);

    await redis.client.del(keys.metadata);
    counter.inc({ n: '3' }, 2);
    const next = await flusher.flush();

    expect(next.ok).toBe(true);
    expect(await totals()).toEqual([10, 10, 10, 12, 10]);
  });

  it('the previous values kept by a repair are still known if the next write fails and they are lost', async () => {
    const { keys, store, flusher, identity, counter, totals } = await counted();
    // Only the gauges go: the repair keeps the previous values; its counting write never arrives.
    await redis.client.del(keys.gauges(identity.id));
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'before' });
    expect((await flusher.flush()).ok).toBe(false);

    await redis.client.del(keys.counters(identity.id));
    counter.inc({ n: '1' }, 4);
    const next = await flusher.flush();

    expect(next.ok).toBe(true);
    expect(await totals()).toEqual([10, 14, 10, 10, 10]);
  });

  it('Redis goes back to a point half-way through a load: the load starts over and nothing is counted twice', async () => {
    const { prefix, keys, store, flusher, identity, counter, totals } = await counted(6);
    await redis.client.del(keys.counters(identity.id));
    // A copy of Redis taken right after the first of three load batches: what a snapshot or a
    // replica that lagged would hold.
    let copy: [string, Buffer][] | undefined;
    store.onPassed = async (call) => {
      if (call !== 'base-write' || copy) return;
      copy = [];
      for (const key of await keysUnderPrefix(redis.client, prefix)) {
        copy.push([key, (await redis.client.dumpBuffer(key))!]);
      }
    };
    expect((await flusher.flush()).ok).toBe(true);

    await deletePrefix(redis.client, prefix);
    for (const [key, dump] of copy!) await redis.client.restore(key, 0, dump);
    counter.inc({ n: '4' }, 1);
    const next = await flusher.flush();

    expect(next.ok).toBe(true);
    expect(await totals()).toEqual([10, 10, 10, 10, 11]);
  });

  it.each([
    ['its previous values are lost', 'counters', 15, 25],
    ['its gauges are lost (the previous values kept)', 'gauges', 10, 20],
  ] as const)(
    'a write that removed a series lost its reply, then %s: the series made again is counted in full',
    async (_, lost, again, expected) => {
      const { keys, store, flusher, identity, counter, totals } = await counted();
      counter.remove({ n: '0' });
      store.plan.push({ call: 'write', failure: 'after' });
      expect((await flusher.flush()).ok).toBe(false);

      await redis.client.del(
        lost === 'counters' ? keys.counters(identity.id) : keys.gauges(identity.id),
      );
      counter.inc({ n: '0' }, again);
      expect((await flusher.flush()).ok).toBe(true);

      // What was counted before the removal stays; what was counted since adds to it.
      expect(await totals()).toEqual([expected, 10, 10, 10, 10]);
    },
  );

  it('an ended process leaves nothing for a scrape to wait for', async () => {
    const { prefix, flusher } = await counted();
    await flusher.stop();
    await flusher.end();
    const collector = new RedisMultiProcessCollector({
      client: redis.client,
      keyPrefix: prefix,
      acknowledged: () => flusher.acknowledged(),
    });

    const text = await collector.metrics();

    expect(flusher.acknowledged()).toBeUndefined();
    expect(text).toContain('jobs_total{n="4"} 10\n');
  });

  it('an abandoned process writes nothing more, not even the rest of a flush under way', async () => {
    const { flusher, counter, totals } = await counted(6);
    for (let n = 0; n < 5; n += 1) counter.inc({ n: String(n) }, 1);

    const underWay = flusher.flush();
    flusher.abandon();

    expect(await underWay).toMatchObject({ ok: false, sent: 0 });
    expect(await totals()).toEqual([10, 10, 10, 10, 10]);
  });

  it('the totals went back to a write whose values the process no longer knows: they are kept, never counted again', async () => {
    const { keys, flusher, identity, counter, totals, warnings } = await counted();
    counter.inc({ n: '0' }, 5);
    expect((await flusher.flush()).ok).toBe(true);
    // Redis lost data twice over: the totals went back to the first write, the previous values went.
    const first = seriesField('jobs_total', { n: '0' });
    await redis.client.hset(keys.totals, first, 'v 10', `#p:${identity.id}`, '1');
    await redis.client.del(keys.counters(identity.id));

    const repaired = await flusher.flush();
    counter.inc({ n: '1' }, 1);
    const next = await flusher.flush();

    expect([repaired.ok, next.ok]).toEqual([true, true]);
    // Off by the 5 counted since the first write, as the warning says; counting all again from zero
    // would have doubled every series.
    expect(await totals()).toEqual([10, 11, 10, 10, 10]);
    expect(warnings).toEqual([
      expect.stringContaining(
        'the totals hold an older write of this process (1) whose values it no longer knows, so they may be off by what it counted since',
      ),
    ]);
    expect(warnings[0]).toContain('Repairing it as well as it can');
  });

  it('an abandoned process stops hearing the registry, which would otherwise keep it and its series', async () => {
    const registry = new Registry();
    const flusher = testFlusher(redis.client, redis.prefix('abandoned-hearing'), registry, {
      gaugeModeOf: () => 'mostrecent',
    });
    const heard = new Gauge({ name: 'heard_g', help: 'h', registers: [registry] });
    expect((await flusher.flush()).ok).toBe(true);

    flusher.abandon();
    const unheard = new Gauge({ name: 'unheard_g', help: 'h', registers: [registry] });

    // A mostrecent gauge the reader hears has its setting calls observed on the gauge itself.
    expect([Object.hasOwn(heard, 'set'), Object.hasOwn(unheard, 'set')]).toEqual([true, false]);
  });

  it('a flush after the process ended writes nothing and does not bring it back', async () => {
    const { keys, flusher, identity, counter, totals } = await counted();
    await flusher.stop();
    await flusher.end();

    counter.inc({ n: '1' }, 5);
    const late = await flusher.flush();

    expect(late.ok).toBe(false);
    expect(await totals()).toEqual([10, 10, 10, 10, 10]);
    expect(await redis.client.zscore(keys.processes, identity.id)).toBeNull();
  });
});
