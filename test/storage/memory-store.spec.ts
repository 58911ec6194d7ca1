import { Counter, Gauge, Registry } from 'prom-client';

import {
  MemoryMetricsStore,
  MetricsFlusher,
  ProcessIdentity,
  RedisMultiProcessCollector,
  seriesField,
} from '../../src/index.js';

describe('MemoryMetricsStore keeps the semantics of the Redis scripts', () => {
  it('merges, refuses replays, folds, and tells a reaped writer from lost data', async () => {
    let now = 1_000_000;
    const store = new MemoryMetricsStore(() => now);
    const identity = ProcessIdentity.create({ hostname: 'h', pid: 1 });
    const field = seriesField('c_total', 'c_total', {});
    const meta: [string, { type: 'counter'; help: string }][] = [
      ['c_total', { type: 'counter', help: 'c' }],
    ];

    const first = await store.write(identity, { series: [[field, 4]], metadata: meta });
    now += 10;
    const replay = await store.write(identity, { series: [[field, 4]], expectRegistered: true });
    const other = ProcessIdentity.create({ hostname: 'h', pid: 2 });
    await store.write(other, {
      series: [[seriesField('g', 'g', {}), 1]],
      metadata: [['g', { type: 'gauge', help: 'g', mode: 'all' }]],
    });
    now += 1000;
    const notYet = await store.fold(identity.id, 5000);
    now += 5000;
    const stale = await store.write(other, {
      series: [],
      staleAfterMs: 5000,
      expectRegistered: true,
    });
    const folded = await store.fold(identity.id, 5000);
    const reaped = await store.write(identity, { series: [[field, 5]], expectRegistered: true });
    const stranger = ProcessIdentity.create({ hostname: 'h', pid: 3 });
    const lost = await store.write(stranger, { series: [], expectRegistered: true });

    expect([first.written, replay.written]).toEqual([1, 0]);
    expect(notYet).toBe(-1);
    // Listed before its own heartbeat is refreshed, as the script does; the flusher skips itself.
    expect(stale.stale).toEqual([identity.id, other.id]);
    expect(folded).toBe(1);
    expect([reaped.reaped, reaped.lost, lost.reaped, lost.lost]).toEqual([
      true,
      false,
      false,
      true,
    ]);
    const [, , processes, , , archive] = await store.read();
    expect(processes).toEqual([other.id, String(now)]);
    expect(archive).toEqual([field, '4']);
  });

  it('serves a flusher and a collector like Redis does', async () => {
    const store = new MemoryMetricsStore();
    const writers = [1, 2].map((pid) => {
      const registry = new Registry();
      const counter = new Counter({ name: 'jobs_total', help: 'Jobs', registers: [registry] });
      const gauge = new Gauge({ name: 'busy', help: 'Busy', registers: [registry] });
      counter.inc(pid * 10);
      gauge.set(pid);
      const flusher = new MetricsFlusher({
        store,
        identity: ProcessIdentity.create({ hostname: 'h', pid }),
        registry,
        intervalMs: 1000,
        gaugeModeOf: () => 'livesum',
      });
      return flusher;
    });
    for (const flusher of writers) await flusher.flush();
    await writers[0].fold();

    const text = await new RedisMultiProcessCollector({ store }).metrics();

    expect(text).toBe(
      '# HELP busy Busy\n# TYPE busy gauge\nbusy 2\n\n# HELP jobs_total Jobs\n# TYPE jobs_total counter\njobs_total 30\n',
    );
  });
});
