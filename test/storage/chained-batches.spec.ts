import { Counter, Registry } from 'prom-client';

import { planRepair, PrefixKeys, RedisMetricsStore, seriesField } from '../../src/index.js';
import { BATCHES_IN_FLIGHT } from '../../src/storage/metrics-flusher.js';
import { FailingStore } from '../harness/failing-store.js';
import { fiveCounters } from '../harness/five-counters.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

// A flush sends its batches without waiting for each reply, each batch a write on top of the one
// before: a batch that was not applied makes every later one a mismatch, and a later one applied tells
// that the ones before it were applied, whatever became of their replies.
describe('the batches of a flush go as a chain', () => {
  const redis = useTestRedis();

  /** A process with five counters at 10 each (see five-counters.ts), two a batch: three batches. */
  const unflushed = () => fiveCounters(redis, 'chained', 6);

  /** The same process, flushed once. */
  async function counted() {
    const process = unflushed();
    expect(await process.flusher.flush()).toMatchObject({ ok: true, sent: 5, calls: 3 });
    return process;
  }

  it('a first flush whose first batch arrives after the others were refused: sent again, counted once', async () => {
    const { keys, store, flusher, totals, warnings } = unflushed();
    store.plan.push({ call: 'write', failure: 'late' });

    // The second and third batches find no marker of the process: refused at the write before the
    // chain, which is no loss.
    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    expect(await totals()).toEqual([10, 10, 10, 10, 10]);
    expect(warnings).toEqual([]);
    expect(await redis.client.hget(keys.totals, '#lost-at')).toBeNull();
  });

  it('a first flush whose first batch never reaches Redis fails, with no repair, and the next one writes it all', async () => {
    const { keys, store, flusher, totals, warnings } = unflushed();
    store.plan.push({ call: 'write', failure: 'before' });

    expect(await flusher.flush()).toMatchObject({
      ok: false,
      error: new Error('injected: the write never reached Redis'),
    });
    expect(await totals()).toEqual([0, 0, 0, 0, 0]);
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    expect(await totals()).toEqual([10, 10, 10, 10, 10]);
    // The failure is reported; nothing was taken for a loss.
    expect(warnings).toEqual([expect.stringMatching(/failed; counting goes on in memory/)]);
    expect(await redis.client.hget(keys.totals, '#lost-at')).toBeNull();
  });

  it('a lost reply vouched for by a late batch is no failure: what was refused behind it is sent again', async () => {
    const { store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    // The first batch's reply is lost; the second arrives after the third, which is refused at the
    // first's write; then the second is applied, which tells the first was.
    store.plan.push({ call: 'write', failure: 'after' }, { call: 'write', failure: 'late' });

    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5 });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    expect(warnings).toEqual([]);
  });

  it('a lost reply proved applied by the batches in flight behind it: the batches not sent yet are sent before the flush succeeds', async () => {
    // Twelve counters, one a batch: more batches than go before the first reply, so sending stops at
    // the lost reply with some never sent.
    const prefix = redis.prefix('chained-tail');
    const keys = new PrefixKeys(prefix);
    const store = new FailingStore(new RedisMetricsStore(redis.client, prefix));
    const registry = new Registry();
    const counter = new Counter({
      name: 'tail_total',
      help: 'h',
      labelNames: ['n'],
      registers: [registry],
    });
    const names = Array.from({ length: 12 }, (_, n) => String(n));
    for (const n of names) counter.inc({ n }, 1);
    const flusher = testFlusher(redis.client, prefix, registry, { store, batchWeight: 3 });
    store.plan.push({ call: 'write', failure: 'after' });

    const flush = await flusher.flush();

    expect(BATCHES_IN_FLIGHT).toBeLessThan(names.length);
    expect(flush).toMatchObject({ ok: true, sent: 12 });
    const totals = await redis.client.hmget(
      keys.totals,
      ...names.map((n) => seriesField('tail_total', { n })),
    );
    expect(totals).toEqual(names.map(() => 'v 1'));
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 0 });
  });

  it('a middle batch whose reply is lost is known applied from the next one: the flush succeeds', async () => {
    const { store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'after' });

    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5, calls: 2 });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    // Nothing is left to send: the lost reply's series were taken as acknowledged.
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 0, calls: 1 });
    expect(warnings).toEqual([]);
  });

  it('a middle batch that never reaches Redis: the next one is refused, and the next flush sends the rest once', async () => {
    const { store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'before' });

    const failed = await flusher.flush();

    expect(failed).toMatchObject({
      ok: false,
      error: new Error('injected: the write never reached Redis'),
    });
    // The first batch was applied; the third was sent on top of the second, so Redis refused it.
    expect(await totals()).toEqual([11, 11, 10, 10, 10]);
    expect(await flusher.flush()).toMatchObject({ ok: true, sent: 3, calls: 2 });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    // The failed flush is reported; no repair was needed.
    expect(warnings).toEqual([expect.stringMatching(/failed; counting goes on in memory/)]);
  });

  it('a batch that reaches Redis after the next one: the refused one is sent again, with no repair', async () => {
    const { keys, store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'late' });

    // The third batch is refused (the second had not arrived), then the second is applied: the
    // third's markers are older than a write this process knows applied.
    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    expect(warnings).toEqual([]);
    // Not taken for Redis going back in time: scrapes are not held back.
    expect(await redis.client.hget(keys.totals, '#lost-at')).toBeNull();
  });

  it('a batch applied, then refused when its client sends it again: taken as applied, counted once', async () => {
    const { keys, identity, store, flusher, totals, incrementAll } = await counted();
    incrementAll();
    store.plan.push({ call: 'write', failure: 'twice' });
    // Redis loses the previous values once the chain is through: a repair reads what the process
    // knows it wrote, so the first batch's series must be known as written.
    let passed = 0;
    store.onPassed = async () => {
      if ((passed += 1) === 2) await redis.client.del(keys.counters(identity.id));
    };

    const flush = await flusher.flush();

    // The second run of the first batch was refused by its own markers, behind the other two.
    expect(flush).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    const next = await flusher.flush();
    expect(next).toMatchObject({ ok: true, sent: 0 });
    expect(next.repaired).toMatch(/previous counter values were lost/);
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
  });

  it('a whole chain applied, then sent again: refused by its own markers, with no repair', async () => {
    const { keys, store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push(
      { call: 'write', failure: 'twice' },
      { call: 'write', failure: 'twice' },
      { call: 'write', failure: 'twice' },
    );

    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    expect(warnings).toEqual([]);
    expect(await redis.client.hget(keys.totals, '#lost-at')).toBeNull();
  });

  it('a flush whose first batch finds the last one of a failed flush applied adopts it, though a later batch fails', async () => {
    const { store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push(
      { call: 'write', failure: 'pass' },
      { call: 'write', failure: 'pass' },
      { call: 'write', failure: 'after' },
    );
    expect(await flusher.flush()).toMatchObject({ ok: false });
    incrementAll();
    // The first batch is refused (the markers are at the write whose reply was lost); the second,
    // sent on top of it, never arrives: it cannot have been applied, so the refusal is what counts.
    store.plan.push({ call: 'write', failure: 'pass' }, { call: 'write', failure: 'before' });

    const flush = await flusher.flush();

    expect(flush).toMatchObject({ ok: true, sent: 5, repaired: undefined });
    expect(await totals()).toEqual([12, 12, 12, 12, 12]);
    expect(warnings).toEqual([expect.stringMatching(/failed; counting goes on in memory/)]);
  });

  it('two batches applied with their replies lost: the next flush takes both as applied and sends nothing again', async () => {
    const { store, flusher, totals, warnings, incrementAll } = await counted();
    incrementAll();
    store.plan.push(
      { call: 'write', failure: 'pass' },
      { call: 'write', failure: 'after' },
      { call: 'write', failure: 'after' },
    );

    expect(await flusher.flush()).toMatchObject({ ok: false });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);

    // The markers are at the third batch, sent on top of the second: both are adopted, no repair.
    const next = await flusher.flush();

    expect(next).toMatchObject({ ok: true, sent: 0, repaired: undefined });
    expect(await totals()).toEqual([11, 11, 11, 11, 11]);
    // The failed flush is reported; no repair was needed.
    expect(warnings).toEqual([expect.stringMatching(/failed; counting goes on in memory/)]);
  });
});

describe('planRepair with writes sent as a chain', () => {
  it('the values at a write of the chain are those of every write before it in the chain', () => {
    const plan = planRepair(
      { counters: null, gauges: 6, totals: 6, metadata: 6, ended: null },
      {
        ackedSeq: 4,
        acked: new Map([
          ['a', 'v 1'],
          ['c', 'v 7'],
        ]),
        ackedComplete: true,
        unanswered: [
          { seq: 5, after: 4, counters: new Map([['a', 'v 2']]), complete: true },
          { seq: 6, after: 5, counters: new Map([['b', 'v 3']]), complete: true },
        ],
      },
    );

    // The previous values were lost: they are loaded back from what the totals hold as of write 6.
    expect(plan).toMatchObject({
      kind: 'rebase',
      keepCounters: false,
      exact: true,
      base: new Map([
        ['a', 'v 2'],
        ['c', 'v 7'],
        ['b', 'v 3'],
      ]),
    });
  });

  it('a write on top of one it does not know the values of is not known either', () => {
    const plan = planRepair(
      { counters: null, gauges: 6, totals: 6, metadata: 6, ended: null },
      {
        ackedSeq: 4,
        acked: new Map([['a', 'v 1']]),
        ackedComplete: true,
        unanswered: [{ seq: 6, after: 5, counters: new Map([['b', 'v 3']]), complete: true }],
      },
    );

    expect(plan).toMatchObject({ kind: 'rebase', exact: false, base: new Map([['a', 'v 1']]) });
  });
});
