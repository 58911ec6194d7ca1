import { fork, type ChildProcess } from 'node:child_process';

import type { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

import {
  decodePacked,
  IpcMetricsStore,
  isMarkerField,
  MARKER,
  MemoryMetricsStore,
  MetricsFlusher,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  seriesField,
  type MetricsStore,
  type SeriesBatch,
  type StoreSnapshot,
} from '../../src/index.js';
import { connectTestRedis, deletePrefix, uniquePrefix } from '../harness/test-redis.js';

const primaryFixture = new URL('../fixtures/ipc-primary.mjs', import.meta.url).pathname;

// The embedded store (a cluster primary's memory, reached by its workers over IPC) must keep the
// semantics of the Redis scripts: the same operations give the same answers from all three. The IPC
// store talks to a child that serves a memory store as a cluster primary does, over a real IPC channel.
const STORES = ['redis', 'memory', 'ipc'] as const;

describe.each(STORES)('the %s store keeps the write protocol', (kind) => {
  let client: Redis;
  const prefixes: string[] = [];
  const primaries: ChildProcess[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const primary of primaries) primary.kill();
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  function newStore(): MetricsStore {
    if (kind === 'memory') return new MemoryMetricsStore();
    if (kind === 'ipc') {
      const primary = fork(primaryFixture, [], { stdio: 'inherit' });
      primaries.push(primary);
      // A ChildProcess has the IPC methods the store uses on a worker's `process`.
      return new IpcMetricsStore(primary as unknown as NodeJS.Process);
    }
    const prefix = uniquePrefix(`contract-${kind}`);
    prefixes.push(prefix);
    return new RedisMetricsStore(client, prefix);
  }

  const counterMeta: [string, { type: 'counter'; help: string }] = [
    'jobs_total',
    { type: 'counter', help: 'Jobs' },
  ];
  const histogramMeta: [string, { type: 'histogram'; help: string }] = [
    'job_seconds',
    { type: 'histogram', help: 'Time' },
  ];
  const gaugeMeta: [string, { type: 'gauge'; help: string; mode: string }] = [
    'busy',
    { type: 'gauge', help: 'Busy', mode: 'all' },
  ];
  const jobs = seriesField('jobs_total', { queue: 'mail' });
  const seconds = seriesField('job_seconds', {});
  const busy = seriesField('busy', {});

  /** A writing process of host `h`. */
  const writer = (pid: number) => ProcessIdentity.create({ hostname: 'h', pid });

  function pairsOf(pairs: string[]): Record<string, string> {
    const map: Record<string, string> = {};
    for (let i = 0; i < pairs.length; i += 2) map[pairs[i]] = pairs[i + 1];
    return map;
  }

  /**
   * A process's gauges hash as read, with the time of each declared mode as JavaScript prints the
   * number (Redis writes three decimals: `1000.000`), to compare with a reply's `now`.
   */
  function gaugesHashOf(snapshot: StoreSnapshot, processId: string): Record<string, string> {
    const hash = pairsOf(snapshot.gauges[snapshot.processes.indexOf(processId) / 2]);
    for (const [field, text] of Object.entries(hash)) {
      if (!field.startsWith(MARKER.gaugeMode(''))) continue;
      const [mode, time] = text.split(' ');
      hash[field] = `${mode} ${Number(time)}`;
    }
    return hash;
  }

  /** The modes a process declared: the `#mode:` fields of its gauges hash, as {@link gaugesHashOf}. */
  function declaredModes(snapshot: StoreSnapshot, processId: string): Record<string, string> {
    return Object.fromEntries(
      Object.entries(gaugesHashOf(snapshot, processId)).filter(([field]) =>
        field.startsWith(MARKER.gaugeMode('')),
      ),
    );
  }

  function totalsOf(snapshot: StoreSnapshot): Record<string, Record<string, number> | string> {
    const totals: Record<string, Record<string, number> | string> = {};
    for (let i = 0; i < snapshot.totals.length; i += 2) {
      const [field, text] = [snapshot.totals[i], snapshot.totals[i + 1]];
      // The Redis store's stamp of its totals key (for reads in several calls), not the protocol's.
      if (field === MARKER.born) continue;
      totals[field] = field.startsWith('#') ? text : Object.fromEntries(decodePacked(text)!);
    }
    return totals;
  }

  it('adds what each write adds, refuses a replay, and counts a reset from zero', async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    const first: SeriesBatch = {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta, histogramMeta, gaugeMeta],
      counters: [
        [jobs, 'v 5'],
        [seconds, 'c 2 s 0.75 0.5 1 +Inf 2'],
      ],
      gauges: [[busy, { value: 3, timestamp: 1000 }]],
    };

    expect((await store.write(a, first)).status).toBe('applied');
    const replay = await store.write(a, first);
    await store.write(b, {
      expectedSeq: 0,
      seq: 7,
      counters: [
        [jobs, 'v 1'],
        [seconds, 'c 1 s 2 0.5 0 +Inf 1'],
      ],
    });
    // Process a: 5 -> 8 adds 3; then a reset (8 -> 2) counts 2 from zero.
    await store.write(a, { expectedSeq: 1, seq: 2, counters: [[jobs, 'v 8']] });
    await store.write(a, { expectedSeq: 2, seq: 3, counters: [[jobs, 'v 2']] });

    expect(replay).toMatchObject({
      status: 'mismatch',
      markers: { counters: 1, gauges: 1, totals: 1, metadata: 1, ended: null },
    });
    const snapshot = await store.read();
    expect(totalsOf(snapshot)).toEqual({
      [jobs]: { v: 11 },
      [seconds]: { c: 3, s: 2.75, '0.5': 1, '+Inf': 3 },
      [MARKER.processSeq(a.id)]: '3',
      [MARKER.processSeq(b.id)]: '7',
    });
    expect(snapshot.processes.filter((_, i) => i % 2 === 0).sort()).toEqual([a.id, b.id].sort());
    const gaugesOfA = snapshot.gauges[snapshot.processes.indexOf(a.id) / 2];
    expect(gaugesOfA).toEqual(expect.arrayContaining([busy, '3 1000', MARKER.seq, '3']));
  });

  it('applies a write of lists longer than one Redis call takes as if its series came one after another', async () => {
    const store = newStore();
    const a = writer(1);
    // 9,000 series, lists of 18,000 items: past what Lua can pass to one Redis call (8,000), so the
    // script must read and write them in several.
    const many = 9000;
    const job = (i: number) => seriesField('jobs_total', { queue: `q${i}` });
    const gauge = (i: number) => seriesField('busy', { slot: `s${i}` });
    const first = await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta, gaugeMeta],
      counters: Array.from({ length: many }, (_, i) => [job(i), `v ${i}`] as [string, string]),
      gauges: Array.from({ length: many }, (_, i) => [gauge(i), { value: i, timestamp: 1000 }]),
    });
    await store.write(a, {
      expectedSeq: 1,
      seq: 2,
      counters: [
        // Listed twice, in different calls of the script: 3 -> 5 adds 2, then 5 -> 8 adds 3.
        [job(3), 'v 5'],
        ...Array.from(
          { length: many - 10 },
          (_, i) => [job(i + 10), `v ${i + 11}`] as [string, string],
        ),
        [job(3), 'v 8'],
        // 7 -> 9 adds 2, then 9 -> 8 is a reset, counted from zero: 8 more.
        [job(7), 'v 9'],
        [job(7), 'v 8'],
        // Written, then deleted by the same write (deletions come after the values): 1 -> 3 adds 2.
        [job(1), 'v 3'],
      ],
      counterDeletes: [job(1)],
      // Set, then deleted by the same write; 9,000 deletions, most of fields that never existed.
      gauges: [
        [gauge(0), { value: 40, timestamp: 2000 }],
        [gauge(5), { value: 50, timestamp: 2000 }],
      ],
      gaugeDeletes: Array.from({ length: 2 * many }, (_, i) => gauge(i + 1)),
      // The later of two exemplars of one field stays, whichever comes first.
      exemplars: [
        [job(2), '5000 2 {"trace_id":"later"}'],
        [job(2), '3000 2 {"trace_id":"earlier"}'],
      ],
    });

    const snapshot = await store.read();
    const totals = totalsOf(snapshot);
    expect(totals[job(3)]).toEqual({ v: 8 });
    expect(totals[job(7)]).toEqual({ v: 17 });
    expect(totals[job(1)]).toEqual({ v: 3 });
    expect(totals[job(9)]).toEqual({ v: 9 });
    expect(totals[job(10)]).toEqual({ v: 11 });
    expect(totals[job(many - 1)]).toEqual({ v: many });
    expect(Object.keys(totals)).toHaveLength(many + 1); // and the write marker
    expect(gaugesHashOf(snapshot, a.id)).toEqual({
      [gauge(0)]: '40 2000',
      [MARKER.gaugeMode('busy')]: `all ${first.now}`,
      [MARKER.seq]: '2',
    });
    expect(pairsOf((await store.read({ exemplars: true })).exemplars!)).toEqual({
      [job(2)]: '5000 2 {"trace_id":"later"}',
    });
    // What the process wrote last is what a third write builds on: job 7 at 8 -> 9 adds 1.
    await store.write(a, {
      expectedSeq: 2,
      seq: 3,
      counters: [
        [job(7), 'v 9'],
        [job(1), 'v 4'],
      ],
    });
    const after = totalsOf(await store.read());
    expect(after[job(7)]).toEqual({ v: 18 });
    // job 1 was deleted from the process's values: its 4 counts from zero on top of the 3 counted.
    expect(after[job(1)]).toEqual({ v: 7 });
  });

  it("leaves a NaN or infinite count out of the totals, and keeps counting the process's finite ones", async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta],
      counters: [[jobs, 'v 5']],
    });
    // prom-client lets inc(NaN) through: one process's counter becomes NaN, another's +Inf.
    await store.write(b, {
      expectedSeq: 0,
      seq: 1,
      counters: [
        [jobs, 'v NaN'],
        [seconds, 'c 1 s +Inf +Inf 1'],
      ],
    });
    await store.write(a, { expectedSeq: 1, seq: 2, counters: [[jobs, 'v 7']] });
    await store.write(b, { expectedSeq: 1, seq: 2, counters: [[seconds, 'c 2 s +Inf +Inf 2']] });

    const snapshot = await store.read();
    expect(totalsOf(snapshot)).toEqual({
      [jobs]: { v: 7 },
      [seconds]: { c: 2, '+Inf': 2 },
      [MARKER.processSeq(a.id)]: '2',
      [MARKER.processSeq(b.id)]: '2',
    });
  });

  it('sums histogram buckets only at the bounds every writer has when layouts differ', async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    // A deploy changed the buckets: a counts at 0.5, 1 and +Inf, b at 1, 2 and +Inf.
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [histogramMeta],
      counters: [[seconds, 'c 3 s 1.5 0.5 1 1 2 +Inf 3']],
    });
    await store.write(b, {
      expectedSeq: 0,
      seq: 1,
      counters: [[seconds, 'c 4 s 6 1 1 2 3 +Inf 4']],
    });
    await store.write(a, {
      expectedSeq: 1,
      seq: 2,
      counters: [[seconds, 'c 5 s 2.5 0.5 2 1 4 +Inf 5']],
    });

    const snapshot = await store.read();
    // At 1 and +Inf every observation of both is counted: a's 4 and b's 1 at or below 1, all 9.
    expect(totalsOf(snapshot)).toEqual({
      [seconds]: { c: 9, s: 8.5, '1': 5, '+Inf': 9 },
      [MARKER.processSeq(a.id)]: '2',
      [MARKER.processSeq(b.id)]: '1',
    });
  });

  it('ends a process: its gauges and state go, its counts stay, a tombstone tells it so', async () => {
    const store = newStore();
    const a = writer(1);
    await store.write(a, {
      expectedSeq: 0,
      seq: 4,
      metadata: [counterMeta, gaugeMeta],
      counters: [[jobs, 'v 5']],
      gauges: [[busy, { value: 1 }]],
    });

    expect(await store.end(a.id, 60_000)).toBe('alive');
    expect(await store.end(a.id)).toBe('ended');
    expect(await store.end(a.id)).toBe('absent');
    const after = await store.write(a, { expectedSeq: 4, seq: 5, counters: [[jobs, 'v 6']] });

    expect(after).toMatchObject({
      status: 'mismatch',
      markers: { counters: null, gauges: null, totals: null, metadata: null, ended: 4 },
    });
    const snapshot = await store.read();
    expect(snapshot.processes).toEqual([]);
    expect(totalsOf(snapshot)).toEqual({ [jobs]: { v: 5 } });
    expect((await store.processIndex()).processes).toEqual([]);
  });

  it("deletes a metric's counts, or one series', with their exemplars, and a process counts on from its own", async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    // A label value with the characters of a Redis glob: deleting it must not take the others.
    const odd = seriesField('jobs_total', { queue: 'a*[b]?' });
    const plain = seriesField('jobs_total', { queue: 'a' });
    const longer = seriesField('jobs_total_extra', {});
    const bucket = seriesField('job_seconds', {});
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta, histogramMeta, ['jobs_total_extra', { type: 'counter', help: 'x' }]],
      counters: [
        [jobs, 'v 5'],
        [odd, 'v 2'],
        [plain, 'v 3'],
        [longer, 'v 4'],
        [seconds, 'c 1 s 0.5 0.5 1 +Inf 1'],
      ],
      exemplars: [
        [jobs, '1000 1 {"trace_id":"j"}'],
        [odd, '1000 1 {"trace_id":"o"}'],
        [longer, '1000 1 {"trace_id":"l"}'],
        [`${bucket} 0.5`, '1000 0.5 {"trace_id":"b"}'],
      ],
    });
    await store.write(b, { expectedSeq: 0, seq: 1, counters: [[jobs, 'v 1']] });

    const one = await store.deleteSeries!('jobs_total', { queue: 'a*[b]?' });
    const afterOne = await store.read({ exemplars: true });
    const rest = await store.deleteSeries!('jobs_total');
    const none = await store.deleteSeries!('jobs_total');
    const histogram = await store.deleteSeries!('job_seconds');
    // Process a counts on: 5 -> 8 adds 3 to a series that starts again from nothing.
    await store.write(a, { expectedSeq: 1, seq: 2, counters: [[jobs, 'v 8']] });
    const after = await store.read({ exemplars: true });

    expect([one, rest, none, histogram]).toEqual([1, 2, 0, 1]);
    expect(totalsOf(afterOne)).toMatchObject({ [jobs]: { v: 6 }, [plain]: { v: 3 } });
    expect(totalsOf(afterOne)[odd]).toBeUndefined();
    expect(Object.keys(pairsOf(afterOne.exemplars!)).sort()).toEqual(
      [jobs, longer, `${bucket} 0.5`].sort(),
    );
    expect(totalsOf(after)).toEqual({
      [jobs]: { v: 3 },
      [longer]: { v: 4 },
      [MARKER.processSeq(a.id)]: '2',
      [MARKER.processSeq(b.id)]: '1',
    });
    expect(Object.keys(pairsOf(after.exemplars!))).toEqual([longer]);
  });

  it('tells the last write of a process the totals hold, indexed or ended', async () => {
    const store = newStore();
    const a = writer(1);
    expect(await store.heldWrite!(a.id)).toBeNull();
    await store.write(a, {
      expectedSeq: 0,
      seq: 4,
      metadata: [counterMeta],
      counters: [[jobs, 'v 5']],
    });
    await store.write(a, { expectedSeq: 4, seq: 6, counters: [[jobs, 'v 7']] });
    expect(await store.heldWrite!(a.id)).toBe(6);
    expect(await store.end(a.id)).toBe('ended');
    expect(await store.heldWrite!(a.id)).toBe(6);
    expect(await store.heldWrite!(writer(2).id)).toBeNull();
  });

  it('refuses every write of a process ended before its first arrived, until a rebase, and holds nothing of it', async () => {
    const store = newStore();
    const a = writer(1);
    const first: SeriesBatch = {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta],
      counters: [[jobs, 'v 5']],
    };

    expect(await store.end(a.id)).toBe('absent');
    expect(await store.end(a.id)).toBe('absent');
    const late = await store.write(a, first);
    const heldAfterEnd = await store.heldWrite!(a.id);
    await store.rebase(a, { seq: 2, keepCounters: false, markLost: false });
    const afterRebase = await store.write(a, { ...first, expectedSeq: 2, seq: 3 });

    expect(late).toMatchObject({
      status: 'mismatch',
      markers: { counters: null, gauges: null, totals: null, metadata: null, ended: 0 },
    });
    expect(heldAfterEnd).toBeNull();
    expect(afterRebase.status).toBe('applied');
    expect(totalsOf(await store.read())).toEqual({
      [jobs]: { v: 5 },
      [MARKER.processSeq(a.id)]: '3',
    });
  });

  it('rebases: keeps or drops previous values, marks a loss, and takes base values without counting', async () => {
    const store = newStore();
    const a = writer(1);
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta],
      counters: [[jobs, 'v 5']],
    });

    await store.rebase(a, { seq: 2, keepCounters: true, markLost: false });
    await store.write(a, { expectedSeq: 2, seq: 3, counters: [[jobs, 'v 6']] });
    const kept = totalsOf(await store.read());
    await store.rebase(a, { seq: 4, keepCounters: false, markLost: true });
    await store.write(a, {
      expectedSeq: 4,
      seq: 5,
      counters: [[jobs, 'v 6']],
      counterMode: 'base',
    });
    await store.write(a, { expectedSeq: 5, seq: 6, counters: [[jobs, 'v 9']] });
    const snapshot = await store.read();

    expect(kept[jobs]).toEqual({ v: 6 });
    expect(totalsOf(snapshot)[jobs]).toEqual({ v: 9 });
    expect(Number(totalsOf(snapshot)[MARKER.lostAt])).toBeCloseTo(snapshot.now, -4);
  });

  it('lists processes with their info and reports stale ones', async () => {
    const store = newStore();
    const a = ProcessIdentity.create({ hostname: 'web-1', pid: 11 });
    await store.write(a, { expectedSeq: 0, seq: 1 });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const b = ProcessIdentity.create({ hostname: 'web-2', pid: 12 });
    const reply = await store.write(b, { expectedSeq: 0, seq: 1, staleAfterMs: 20 });

    const index = await store.processIndex();

    expect(reply.stale).toEqual([a.id]);
    expect(index.processes.map(({ id, info }) => [id, info?.pid, info?.hostname]).sort()).toEqual(
      [
        [a.id, 11, 'web-1'],
        [b.id, 12, 'web-2'],
      ].sort(),
    );
  });

  it('reports at most 16 stale processes, those with the oldest heartbeats, and lists the processes oldest first', async () => {
    const store = newStore();
    const [first, ...others] = Array.from({ length: 18 }, (_, i) => writer(100 + i));
    await store.write(first, { expectedSeq: 0, seq: 1 });
    for (const other of others) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.write(other, { expectedSeq: 0, seq: 1 });
    }
    // The first process writes again: its heartbeat is now the latest of the 18.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.write(first, { expectedSeq: 1, seq: 2 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const last = writer(200);

    const reply = await store.write(last, { expectedSeq: 0, seq: 1, staleAfterMs: 50 });

    expect(reply.stale).toEqual(others.slice(0, 16).map(({ id }) => id));
    // The index lists them in the same order, as a read does.
    const index = (await store.processIndex()).processes.map(({ id }) => id);
    expect(index).toEqual([...others, first, last].map(({ id }) => id));
  });

  it("keeps a process's summary windows beside its gauges; they go with a deletion, a rebase and the process", async () => {
    const store = newStore();
    const a = writer(1);
    const size = seriesField('size', { route: '/a' });
    const other = seriesField('size', { route: '/b' });
    // The process's gauges hash, without its write number.
    const windowOf = (snapshot: StoreSnapshot) => {
      const hash = pairsOf(snapshot.gauges[snapshot.processes.indexOf(a.id) / 2]);
      return Object.fromEntries(Object.entries(hash).filter(([field]) => !isMarkerField(field)));
    };
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [['size', { type: 'summary', help: 'Size', percentiles: [0.5, 0.9] }], gaugeMeta],
      counters: [[size, 'c 3 s 6']],
      gauges: [[busy, { value: 2, timestamp: 1000 }]],
      windows: [
        [size, 'q 1732412345678 1 2:2'],
        [other, 'q +Inf 5'],
      ],
    });
    const written = windowOf(await store.read());
    await store.write(a, { expectedSeq: 1, seq: 2, windowDeletes: [other] });
    const afterDelete = windowOf(await store.read());
    await store.rebase(a, { seq: 3, keepCounters: true, markLost: false });
    const afterRebase = windowOf(await store.read());
    await store.write(a, { expectedSeq: 3, seq: 4, windows: [[size, 'q +Inf 7']] });
    const rewritten = windowOf(await store.read());
    await store.end(a.id);
    const snapshot = await store.read();

    expect(written).toEqual({
      [busy]: '2 1000',
      [size]: 'q 1732412345678 1 2:2',
      [other]: 'q +Inf 5',
    });
    expect(afterDelete).toEqual({ [busy]: '2 1000', [size]: 'q 1732412345678 1 2:2' });
    expect(afterRebase).toEqual({});
    expect(rewritten).toEqual({ [size]: 'q +Inf 7' });
    expect(snapshot.gauges).toEqual([]);
    expect(totalsOf(snapshot)).toEqual({ [size]: { c: 3, s: 6 } });
    const metadata = snapshot.metadata.indexOf('size');
    expect(JSON.parse(snapshot.metadata[metadata + 1])).toEqual({
      type: 'summary',
      help: 'Size',
      percentiles: [0.5, 0.9],
    });
  });

  it("keeps the mode a process declares for each gauge in its gauges hash, stamped with the store's clock, until a rebase or its end", async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    const queued: [string, { type: 'gauge'; help: string; mode: string }] = [
      'queued',
      { type: 'gauge', help: 'Queued', mode: 'livesum' },
    ];
    // Only a gauge's metadata declares a mode; a write without metadata leaves what was declared.
    const first = await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta, gaugeMeta, queued],
      gauges: [[busy, { value: 1 }]],
    });
    await store.write(a, { expectedSeq: 1, seq: 2, gauges: [[busy, { value: 2 }]] });
    const written = await store.read();
    const second = await store.write(b, {
      expectedSeq: 0,
      seq: 1,
      metadata: [['busy', { type: 'gauge', help: 'Busy', mode: 'max' }]],
    });
    const both = await store.read();
    await store.rebase(a, { seq: 3, keepCounters: true, markLost: false });
    const afterRebase = await store.read();
    await store.end(b.id);
    const afterEnd = await store.read();

    expect(declaredModes(written, a.id)).toEqual({
      [MARKER.gaugeMode('busy')]: `all ${first.now}`,
      [MARKER.gaugeMode('queued')]: `livesum ${first.now}`,
    });
    expect(declaredModes(both, b.id)).toEqual({ [MARKER.gaugeMode('busy')]: `max ${second.now}` });
    expect(declaredModes(both, a.id)).toEqual(declaredModes(written, a.id));
    expect(declaredModes(afterRebase, a.id)).toEqual({});
    expect(afterEnd.processes.filter((_, i) => i % 2 === 0)).toEqual([a.id]);
  });

  it('drops the modes a process declared for the metrics it withdraws, and only its own', async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    const queued: [string, { type: 'gauge'; help: string; mode: string }] = [
      'queued',
      { type: 'gauge', help: 'Queued', mode: 'max' },
    ];
    const declared = (snapshot: StoreSnapshot, id: string) =>
      Object.keys(declaredModes(snapshot, id)).sort();
    await store.write(a, { expectedSeq: 0, seq: 1, metadata: [gaugeMeta, queued] });
    await store.write(b, { expectedSeq: 0, seq: 1, metadata: [gaugeMeta, queued] });
    // A metric withdrawn that was never declared (a counter) is no error.
    await store.write(a, {
      expectedSeq: 1,
      seq: 2,
      withdrawnMetrics: ['queued', 'jobs_total'],
      gauges: [[busy, { value: 3 }]],
    });
    const snapshot = await store.read();

    expect(declared(snapshot, a.id)).toEqual([MARKER.gaugeMode('busy')]);
    expect(declared(snapshot, b.id)).toEqual([
      MARKER.gaugeMode('busy'),
      MARKER.gaugeMode('queued'),
    ]);
    // The shared metadata stays: the other process still writes the metric.
    expect(JSON.parse(pairsOf(snapshot.metadata).queued)).toEqual(queued[1]);
    expect(pairsOf(snapshot.gauges[snapshot.processes.indexOf(a.id) / 2])[busy]).toMatch(/^3 /);
  });

  it("applies a write's deletions of the gauges hash after its values, gauges and windows alike", async () => {
    const store = newStore();
    const a = writer(1);
    const size = seriesField('size', {});
    // Each listed for deletion in the other list: one hash, so both go.
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      gauges: [[busy, { value: 2, timestamp: 1000 }]],
      windows: [[size, 'q +Inf 5']],
      gaugeDeletes: [size],
      windowDeletes: [busy],
    });

    const snapshot = await store.read();
    expect(pairsOf(snapshot.gauges[snapshot.processes.indexOf(a.id) / 2])).toEqual({
      [MARKER.seq]: '1',
    });
  });

  it('keeps the latest exemplar of each field by its time, whatever the order of writes, and reads them only when asked', async () => {
    const store = newStore();
    const a = writer(1);
    const b = writer(2);
    const bucket = `${seconds} 0.5`;
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta, histogramMeta],
      counters: [
        [jobs, 'v 1'],
        [seconds, 'c 1 s 0.25 0.5 1 +Inf 1'],
      ],
      exemplars: [
        [jobs, '2000 1 {"trace_id":"a-2000"}'],
        [bucket, '2000 0.25 {"trace_id":"a-2000"}'],
      ],
    });
    // b writes later, but recorded its exemplars earlier: the stored ones stay.
    await store.write(b, {
      expectedSeq: 0,
      seq: 1,
      counters: [[jobs, 'v 1']],
      exemplars: [
        [jobs, '1000 1 {"trace_id":"b-1000"}'],
        [bucket, '2000 0.3 {"trace_id":"b-2000"}'],
      ],
    });
    const kept = await store.read({ exemplars: true });
    await store.write(b, {
      expectedSeq: 1,
      seq: 2,
      exemplars: [[jobs, '3000 2 {"trace_id":"b-3000","span":"x y"}']],
    });
    // A write that is refused (a replay) changes no exemplar.
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      exemplars: [[jobs, '9000 1 {"trace_id":"replayed"}']],
    });

    const plain = await store.read();
    const latest = await store.read({ exemplars: true });

    expect(pairsOf(kept.exemplars!)).toEqual({
      [jobs]: '2000 1 {"trace_id":"a-2000"}',
      [bucket]: '2000 0.25 {"trace_id":"a-2000"}',
    });
    expect(plain.exemplars).toBeUndefined();
    expect(pairsOf(latest.exemplars!)).toEqual({
      [jobs]: '3000 2 {"trace_id":"b-3000","span":"x y"}',
      [bucket]: '2000 0.25 {"trace_id":"a-2000"}',
    });
  });

  it("keeps each gauge's value and time as sent (or the store's clock when none), NaN and the infinities included", async () => {
    const store = newStore();
    const a = writer(1);
    const [last, sum, low, fresh] = ['last', 'sum', 'low', 'fresh'].map((name) =>
      seriesField(name, {}),
    );
    const reply = await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [
        ['last', { type: 'gauge', help: 'Last', mode: 'mostrecent' }],
        ['sum', { type: 'gauge', help: 'Sum', mode: 'livesum' }],
      ],
      gauges: [
        // mostrecent times are the store's clock at the call, with a fraction of a millisecond.
        [last, { value: NaN, timestamp: 1732412345678.125 }],
        [sum, { value: Infinity, timestamp: 1000.5 }],
        [low, { value: -Infinity, timestamp: 0 }],
        [fresh, { value: 0.1 + 0.2 }],
      ],
    });
    await store.write(a, {
      expectedSeq: 1,
      seq: 2,
      gauges: [[sum, { value: -2.5e-300, timestamp: 1001 }]],
      gaugeDeletes: [low],
    });

    const snapshot = await store.read();
    const gauges = gaugesHashOf(snapshot, a.id);
    expect(gauges).toEqual({
      [last]: 'NaN 1732412345678.125',
      [sum]: '-2.5e-300 1001',
      [fresh]: `0.30000000000000004 ${gauges[fresh].split(' ')[1]}`,
      [MARKER.gaugeMode('last')]: `mostrecent ${reply.now}`,
      [MARKER.gaugeMode('sum')]: `livesum ${reply.now}`,
      [MARKER.seq]: '2',
    });
    // Stamped with the store's clock at the write, which its reply gives.
    expect(Number(gauges[fresh].split(' ')[1])).toBe(reply.now);
    const metadata = pairsOf(snapshot.metadata);
    expect(JSON.parse(metadata.last)).toEqual({
      type: 'gauge',
      help: 'Last',
      mode: 'mostrecent',
    });
    expect(JSON.parse(metadata.sum)).toEqual({ type: 'gauge', help: 'Sum', mode: 'livesum' });
  });

  it("keeps a gauge time that is not finite as sent, not the store's clock", async () => {
    const store = newStore();
    const a = writer(1);
    const [never, before, unknown] = ['never', 'before', 'unknown'].map((name) =>
      seriesField(name, {}),
    );
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      gauges: [
        [never, { value: 1, timestamp: Infinity }],
        [before, { value: 2, timestamp: -Infinity }],
        [unknown, { value: 3, timestamp: NaN }],
      ],
    });

    const snapshot = await store.read();
    expect(pairsOf(snapshot.gauges[snapshot.processes.indexOf(a.id) / 2])).toEqual({
      [never]: '1 +Inf',
      [before]: '2 -Inf',
      [unknown]: '3 NaN',
      [MARKER.seq]: '1',
    });
  });

  it('counts the processes that wrote within the liveness window, the writer included, even on a refused write', async () => {
    const store = newStore();
    const [a, b, c] = [1, 2, 3].map(writer);
    await store.write(a, { expectedSeq: 0, seq: 1 });
    // a is out of a 1 s window; b's and c's writes below are inside it even on a loaded machine.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await store.write(b, { expectedSeq: 0, seq: 1 });

    const recent = await store.write(c, { expectedSeq: 0, seq: 1, livenessWindowMs: 1000 });
    const all = await store.write(c, { expectedSeq: 1, seq: 2, livenessWindowMs: 60_000 });
    const refused = await store.write(b, { expectedSeq: 5, seq: 6, livenessWindowMs: 1000 });
    const notAsked = await store.write(c, { expectedSeq: 2, seq: 3 });

    expect(recent).toMatchObject({ status: 'applied', live: 2 });
    expect(all).toMatchObject({ status: 'applied', live: 3 });
    expect(refused).toMatchObject({ status: 'mismatch', live: 2 });
    expect(notAsked.live).toBeUndefined();
  });

  it('takes an infinite stale age or liveness window as one that takes in every process', async () => {
    const store = newStore();
    const [a, b] = [1, 2].map(writer);
    await store.write(a, { expectedSeq: 0, seq: 1 });

    const reply = await store.write(b, {
      expectedSeq: 0,
      seq: 1,
      staleAfterMs: Infinity,
      livenessWindowMs: Infinity,
    });
    const ended = await store.end(a.id, Infinity);

    expect(reply).toMatchObject({ status: 'applied', stale: [], live: 2 });
    expect(ended).toBe('alive');
    expect((await store.processIndex()).processes.map(({ id }) => id).sort()).toEqual(
      [a.id, b.id].sort(),
    );
  });

  it('keeps no exemplar whose time is not a finite decimal number, so that a later one still replaces it', async () => {
    const store = newStore();
    const a = writer(1);
    await store.write(a, {
      expectedSeq: 0,
      seq: 1,
      metadata: [counterMeta],
      exemplars: [
        [jobs, '+Inf 1 {"trace_id":"never"}'],
        [busy, '0x10 1 {"trace_id":"hex"}'],
      ],
    });
    await store.write(a, {
      expectedSeq: 1,
      seq: 2,
      exemplars: [[jobs, '5000 2 {"trace_id":"later"}']],
    });

    expect(pairsOf((await store.read({ exemplars: true })).exemplars!)).toEqual({
      [jobs]: '5000 2 {"trace_id":"later"}',
    });
  });

  it('serves flushers and a collector to the same merged text', async () => {
    const store = newStore();
    const writers = [1, 2].map((pid) => {
      const registry = new Registry();
      new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] }).inc(pid * 10);
      new Gauge({ name: 'busy', help: 'Busy', registers: [registry] }).set(pid);
      const histogram = new Histogram({
        name: 'job_seconds',
        help: 'Time',
        buckets: [1],
        registers: [registry],
      });
      histogram.observe(pid);
      const summary = new Summary({
        name: 'job_bytes',
        help: 'Size',
        percentiles: [0.5, 0.9],
        registers: [registry],
      });
      for (let i = 1; i <= 4; i += 1) summary.observe(pid * 100 + i);
      return new MetricsFlusher({
        store,
        identity: ProcessIdentity.create({ hostname: 'h', pid }),
        registry,
        intervalMs: 1000,
        gaugeModeOf: () => 'livesum',
      });
    });
    for (const flusher of writers) await flusher.flush();
    await writers[0].end();

    const text = await new RedisMultiProcessCollector({ store }).metrics();

    expect(text).toBe(
      [
        '# HELP busy Busy',
        '# TYPE busy gauge',
        'busy 2',
        '',
        '# HELP job_bytes Size',
        '# TYPE job_bytes summary',
        // The window of the process that is still there (201 to 204): the ended one took its own.
        'job_bytes{quantile="0.5"} 202.5',
        'job_bytes{quantile="0.9"} 204',
        'job_bytes_sum 1220',
        'job_bytes_count 8',
        '',
        '# HELP job_seconds Time',
        '# TYPE job_seconds histogram',
        'job_seconds_bucket{le="1"} 1',
        'job_seconds_bucket{le="+Inf"} 2',
        'job_seconds_sum 3',
        'job_seconds_count 2',
        '',
        '# HELP jobs_total Jobs',
        '# TYPE jobs_total counter',
        'jobs_total 30',
        '',
      ].join('\n'),
    );
  });
});
