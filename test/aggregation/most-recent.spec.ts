import { Gauge, Registry } from 'prom-client';

import {
  PrefixKeys,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
  type GaugeMode,
} from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

/**
 * `mostrecent` and `livemostrecent` answer as Python's prometheus_client does in multiprocess mode:
 * the value set last wins, by the time of the `set()` (here also `inc()`/`dec()`), not of the flush,
 * and a value a process never set does not compete. The expected answers below are what Python gives
 * for the same operations (see docs/decisions.md).
 */
describe('mostrecent gauges: the value set last, by the time of the call', () => {
  const redis = useTestRedis();

  /** A simulated process: its own registry, identity and flusher (made before its metrics, as the module does). */
  function startProcess(prefix: string, pid: number, mode: GaugeMode = 'mostrecent') {
    const registry = new Registry();
    const flusher = testFlusher(redis.client, prefix, registry, {
      identity: ProcessIdentity.create({ hostname: 'h', pid }),
      gaugeModeOf: (name) => (name.startsWith('temp') ? mode : 'all'),
    });
    const gauge = (labelNames: string[] = []) =>
      new Gauge({ name: 'temperature', help: 'Last reading', labelNames, registers: [registry] });
    return { registry, flusher, gauge };
  }

  function setUp(label: string) {
    const prefix = redis.prefix(label);
    const collector = new RedisMultiProcessCollector({
      store: new RedisMetricsStore(redis.client, prefix),
      livenessWindowMs: 60_000,
    });
    /** The merged `temperature` lines of a scrape. */
    const scrape = async () =>
      (await collector.metrics()).split('\n').filter((line) => line.startsWith('temperature'));
    /** A whole scrape. */
    const text = () => collector.metrics();
    return { prefix, scrape, text };
  }

  /**
   * Lets the clock move on between two calls by more than their times can be off on Redis's clock
   * (each flusher places them within half the round trip of a write, which a loaded machine stretches).
   */
  const tick = () => new Promise((resolve) => setTimeout(resolve, 50));

  it('A sets 5, B sets 3, A sets 5 again: 5 (the same value set again is set again)', async () => {
    const { prefix, scrape } = setUp('recent-again');
    const a = startProcess(prefix, 1);
    const b = startProcess(prefix, 2);
    const gaugeA = a.gauge();
    const gaugeB = b.gauge();
    gaugeA.set(5);
    await a.flusher.flush();
    await tick();
    gaugeB.set(3);
    await b.flusher.flush();
    expect(await scrape()).toEqual(['temperature 3']);
    await tick();
    gaugeA.set(5);
    await a.flusher.flush();
    expect(await scrape()).toEqual(['temperature 5']);
  });

  it('the time is the call, not the flush: set first and flushed last still loses', async () => {
    const { prefix, scrape } = setUp('recent-call');
    const a = startProcess(prefix, 1);
    const b = startProcess(prefix, 2);
    const gaugeA = a.gauge(['room']);
    const gaugeB = b.gauge(['room']);
    gaugeA.set({ room: 'hall' }, 20);
    await tick();
    gaugeB.set({ room: 'hall' }, 21);
    await tick();
    gaugeB.inc({ room: 'kitchen' }, 2); // inc() and dec() set a value too
    await tick();
    gaugeA.set({ room: 'kitchen' }, 7);
    await tick();
    gaugeA.dec({ room: 'kitchen' }); // 6, the last call of all
    await b.flusher.flush();
    await a.flusher.flush(); // A flushes last, but set the hall first
    expect(await scrape()).toEqual([
      'temperature{room="hall"} 21',
      'temperature{room="kitchen"} 6',
    ]);
  });

  it("a new process that only declares the gauge does not override an older process's value", async () => {
    const { prefix, scrape } = setUp('recent-declared');
    const old = startProcess(prefix, 1);
    old.gauge().set(5);
    await old.flusher.flush();
    await tick();
    // prom-client starts an unlabelled gauge at 0; this process never set it.
    const restarted = startProcess(prefix, 2);
    restarted.gauge();
    await restarted.flusher.flush();
    expect(await scrape()).toEqual(['temperature 5']);
  });

  it('a gauge no process ever set shows no series', async () => {
    const { prefix, text } = setUp('recent-never');
    const a = startProcess(prefix, 1);
    const b = startProcess(prefix, 2);
    a.gauge();
    b.gauge();
    await a.flusher.flush();
    await b.flusher.flush();
    // No sample, as in Python (which still prints the family's HELP and TYPE lines; the collector here
    // leaves out a family without samples).
    expect(
      (await text()).split('\n').filter((line) => line !== '' && !line.startsWith('#')),
    ).toEqual([]);
  });

  it('livemostrecent: the same, among live processes; reset() makes a gauge unset again', async () => {
    const { prefix, scrape } = setUp('recent-live');
    const a = startProcess(prefix, 1, 'livemostrecent');
    const b = startProcess(prefix, 2, 'livemostrecent');
    const gaugeA = a.gauge();
    const gaugeB = b.gauge();
    gaugeA.set(5);
    await tick();
    gaugeB.set(3);
    await tick();
    gaugeA.set(5);
    await b.flusher.flush();
    await a.flusher.flush();
    expect(await scrape()).toEqual(['temperature 5']);
    gaugeA.reset(); // back to prom-client's initial 0, which no call set
    await a.flusher.flush();
    expect(await scrape()).toEqual(['temperature 3']);
  });

  it('observes gauges made with a plain new Gauge() before the flusher existed, and after start-up', async () => {
    const { prefix, scrape } = setUp('recent-plain');
    const registry = new Registry();
    const early = new Gauge({ name: 'temperature', help: 'Made first', registers: [registry] });
    new Gauge({ name: 'temperature_untouched', help: 'Never set', registers: [registry] });
    early.set(1);
    const flusher = testFlusher(redis.client, prefix, registry, {
      identity: ProcessIdentity.create({ hostname: 'h', pid: 1 }),
      gaugeModeOf: () => 'mostrecent',
    });
    // Set before the flusher could see the call: taken as set when first read.
    await flusher.flush();
    expect(await scrape()).toEqual(['temperature 1']);

    const other = startProcess(prefix, 2);
    const late = new Gauge({
      name: 'temperature_late',
      help: 'Made after start-up',
      registers: [registry],
    });
    await tick();
    other.gauge().set(2);
    await other.flusher.flush();
    await tick();
    late.set(3);
    early.set(1); // the same value again, after the other process's 2: it wins again
    await flusher.flush();
    expect(await scrape()).toEqual(['temperature 1', 'temperature_late 3']);
  });

  it('a process that ends takes its value with it (unlike Python, as the README says)', async () => {
    const { prefix, text, scrape } = setUp('recent-ended');
    const a = startProcess(prefix, 1);
    const b = startProcess(prefix, 2);
    b.gauge().set(3);
    await b.flusher.flush();
    await tick();
    a.gauge().set(5);
    await a.flusher.flush();
    expect(await scrape()).toEqual(['temperature 5']);
    // A shuts down (its last flush ends it): the value set last among the processes left is B's.
    await a.flusher.end();
    expect(await scrape()).toEqual(['temperature 3']);
    await b.flusher.end();
    expect(
      (await text()).split('\n').filter((line) => line !== '' && !line.startsWith('#')),
    ).toEqual([]);
  });

  it('writes the time of the call on the Redis clock, even when it comes before the first flush', async () => {
    const { prefix } = setUp('recent-clock');
    const keys = new PrefixKeys(prefix);
    const redisNow = async () => {
      const [seconds, micros] = await redis.client.time();
      return Number(seconds) * 1000 + Number(micros) / 1000;
    };
    const a = startProcess(prefix, 1);
    const gauge = a.gauge();
    const before = await redisNow();
    gauge.set(9);
    const after = await redisNow();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const flushedAt = await redisNow();
    const result = await a.flusher.flush();
    expect(result.ok).toBe(true);

    const stored = await redis.client.hgetall(keys.gauges(a.flusher.acknowledged()!.processId));
    const [value, timestamp] = stored['["temperature",{}]'].split(' ').map(Number);
    expect(value).toBe(9);
    // Within the round trips measured, and far from the flush 400 ms later.
    expect(timestamp).toBeGreaterThanOrEqual(before - 100);
    expect(timestamp).toBeLessThanOrEqual(after + 100);
    expect(flushedAt - timestamp).toBeGreaterThan(250);
  });
});
