import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { Redis } from 'ioredis';
import { MetricsFlusher, ProcessIdentity, RedisMetricsStore } from 'nestjs-redis-metrics';

import { usedMemory } from './lib/private-redis.js';
import { filledRegistry, seriesLabels } from './lib/series.js';
import { longestCallDuring, type LongestCall } from './lib/slowlog.js';
import { bareFirstFlush } from './lib/bare-first-flush.js';
import { bareChangedSend, changedSeriesByGroup } from './lib/bare-changed-send.js';
import { collectGarbage, median, since, withCpuMs, withOwnGarbageCpuMs } from './lib/stats.js';

/** The cost of one flush of a process holding `series` series. */
export interface FlushCost {
  series: number;
  first: FlushSample;
  /** Script calls of the first flush (it is split into bounded batches). */
  firstCalls: number;
  /**
   * The longest single Redis call of a first flush (SLOWLOG): the median over the repeated first
   * flushes (one stall of the machine can make one call of one flush long), and the worst of them.
   */
  firstLongestCall: LongestCall;
  firstLongestCallWorst: LongestCall;
  /**
   * CPU (ms, median) of the least a first flush can do, in the same repeats (see bare-first-flush.ts):
   * with a ledger as the flusher's (a record per series in a map by field) and without it.
   */
  bareFirstCpuMs: { withLedger: number; withoutLedger: number };
  /** CPU (ms, median over the repeats) of the first flush of a new node process, as at a real start. */
  freshProcessFirstCpuMs: number;
  /**
   * The longest the event loop waited during that first flush (ms, median over the repeats), and
   * during the bare loop's in a process of its own (which yields only to send).
   */
  freshProcessLongestGapMs: { flusher: number; bareLoop: number };
  unchanged: FlushSample;
  tenPercentChanged: FlushSample;
  /**
   * CPU (ms, median) of the least a flush of the same changed tenth can do, in the same rounds (see
   * bare-changed-send.ts): the changed series given, their fields built, their lines sent.
   */
  bareChangedSendCpuMs: number;
  /**
   * CPU (ms, median) of an empty step measured as the flushes after the first are, in the same rounds:
   * its own collection of the young generation and nothing else. The unchanged flush and the bare send
   * each count one such collection, where a flush with changes makes one: a floor made of the two
   * counts it once too many.
   */
  emptyStepCpuMs: number;
  /** Redis memory per stored series, bytes (INFO memory around a first flush; median of the repeats). */
  redisBytesPerSeries: number;
}

export interface FlushSample {
  /** CPU this process spent (user + system), ms, median. */
  cpuMs: number;
  /** Wall time of the flush, ms, median. */
  wallMs: number;
  /** Redis's own CPU for the flush, ms, median. */
  redisCpuMs: number;
  /** How far the repeats' CPU spread: (largest - smallest) / median. */
  cpuSpread: number;
  /** Number of repeats the medians are taken over. */
  repeats: number;
}

const freshFirstFlush = new URL('./lib/fresh-first-flush.js', import.meta.url).pathname;

interface FreshFirstFlush {
  cpuMs: number;
  longestGapMs: number;
}

/** The first flush of a process of its own, or its bare loop's (see fresh-first-flush.ts). */
async function firstFlushInFreshProcess(
  redisUrl: string,
  series: number,
  mode: 'flusher' | 'bare',
): Promise<FreshFirstFlush> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    freshFirstFlush,
    redisUrl,
    String(series),
    ...(mode === 'bare' ? ['bare'] : []),
  ]);
  return JSON.parse(stdout) as FreshFirstFlush;
}

async function redisCpuMs(client: Redis): Promise<number> {
  const text = await client.info('cpu');
  const read = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1000;
}

interface Measured {
  cpuMs: number;
  wallMs: number;
  redisCpuMs: number;
  calls: number;
}

/** A flush's cost; `steady`: a flush after the first, charged with its own garbage only. */
async function measure(
  flusher: MetricsFlusher,
  redis: Redis,
  { steady = false }: { steady?: boolean } = {},
): Promise<Measured> {
  const redisBefore = await redisCpuMs(redis);
  const start = performance.now();
  const { value: result, cpuMs } = await (steady ? withOwnGarbageCpuMs : withCpuMs)(() =>
    flusher.flush(),
  );
  const wallMs = since(start);
  const redisAfter = await redisCpuMs(redis);
  if (!result.ok) throw new Error(`flush failed: ${result.error?.message}`);
  return {
    cpuMs,
    wallMs,
    redisCpuMs: redisAfter - redisBefore,
    calls: result.calls,
  };
}

function medianSample(samples: Measured[]): FlushSample {
  const cpu = samples.map((s) => s.cpuMs);
  const cpuMs = median(cpu);
  return {
    cpuMs,
    wallMs: median(samples.map((s) => s.wallMs)),
    redisCpuMs: median(samples.map((s) => s.redisCpuMs)),
    cpuSpread: (Math.max(...cpu) - Math.min(...cpu)) / cpuMs,
    repeats: samples.length,
  };
}

/**
 * CPU per flush: the first (every series written), with nothing changed and with 10% of the series
 * changed, at each size, in this process (the flusher's own work: reading the registry, comparing,
 * encoding, the script calls). The first flush is repeated with a new process identity each time.
 */
export async function benchFlush(
  redisUrl: string,
  { sizes, repeats }: { sizes: number[]; repeats: number },
): Promise<FlushCost[]> {
  const redis = new Redis(redisUrl);
  const results: FlushCost[] = [];
  try {
    for (const series of sizes) {
      await redis.flushdb();
      const { registry, counter } = filledRegistry(series);
      const makeFlusher = () =>
        new MetricsFlusher({
          store: new RedisMetricsStore(redis, `bench-flush-${series}`),
          identity: ProcessIdentity.create(),
          registry,
          intervalMs: 60_000,
          gaugeModeOf: () => 'all',
        });

      // The first flush of a real start: a node process of its own each time, on an empty Redis.
      const fresh: FreshFirstFlush[] = [];
      const freshBare: FreshFirstFlush[] = [];
      for (let i = 0; i < repeats; i += 1) {
        await redis.flushdb();
        fresh.push(await firstFlushInFreshProcess(redisUrl, series, 'flusher'));
        await redis.flushdb();
        freshBare.push(await firstFlushInFreshProcess(redisUrl, series, 'bare'));
      }

      // First flushes in this process: a new flusher each time (code already optimised), on an
      // empty Redis.
      const firsts: Measured[] = [];
      const longestCalls: LongestCall[] = [];
      const bytesPerSeries: number[] = [];
      let flusher: MetricsFlusher | undefined;
      const bareWithLedger: number[] = [];
      const bareWithoutLedger: number[] = [];
      for (let i = 0; i < repeats; i += 1) {
        // A real process makes one flusher: the last repeat's is let go first, so that neither the
        // floors nor this repeat's flusher run beside it.
        flusher?.abandon();
        flusher = undefined;
        // The floors first, in the same repeat, so that they see the machine as the flusher does.
        for (const ledger of [true, false]) {
          await redis.flushdb();
          collectGarbage();
          const { cpuMs } = await withCpuMs(() => bareFirstFlush(counter, redis, { ledger }));
          (ledger ? bareWithLedger : bareWithoutLedger).push(cpuMs);
        }
        await redis.flushdb();
        // What the floors left is collected before the flusher is measured rather than during it.
        collectGarbage();
        const current = (flusher = makeFlusher());
        const memoryBefore = await usedMemory(redis);
        longestCalls.push(
          await longestCallDuring(redis, async () => {
            firsts.push(await measure(current, redis));
          }),
        );
        bytesPerSeries.push(((await usedMemory(redis)) - memoryBefore) / series);
      }
      longestCalls.sort((a, b) => a.ms - b.ms);

      // A flush after the first costs a few milliseconds or less, and the machine's noise as much:
      // five times the repeats of the first flush.
      const steadyRepeats = repeats * 5;
      const unchanged: Measured[] = [];
      for (let i = 0; i < steadyRepeats; i += 1) {
        unchanged.push(await measure(flusher!, redis, { steady: true }));
      }

      // A different tenth of the series each round. The ten tenths (the bare send's series and the
      // labels that change them) are built first and collected out of the young generation, so that
      // no measured step is charged with copying them.
      const seriesOfTenth = changedSeriesByGroup(counter, 10, (label) => Number(label) % 10);
      const tenths = seriesOfTenth.map((tenthSeries, residue) => {
        const labels = [];
        for (let i = residue; i < series; i += 10) labels.push(seriesLabels(i));
        return { series: tenthSeries, labels };
      });
      collectGarbage();
      const changed: Measured[] = [];
      const bareChanged: number[] = [];
      const emptySteps: number[] = [];
      for (let round = 0; round < steadyRepeats; round += 1) {
        const tenth = tenths[round % 10];
        for (const labels of tenth.labels) counter.inc(labels);
        // In turn first and second, so that neither always finds the entries just read.
        const bare = async () => {
          const { cpuMs } = await withOwnGarbageCpuMs(() => bareChangedSend(tenth.series, redis));
          bareChanged.push(cpuMs);
        };
        if (round % 2 === 1) await bare();
        changed.push(await measure(flusher!, redis, { steady: true }));
        if (round % 2 === 0) await bare();
        emptySteps.push((await withOwnGarbageCpuMs(async () => undefined)).cpuMs);
      }
      results.push({
        series,
        first: medianSample(firsts),
        firstCalls: firsts[0].calls,
        firstLongestCall: longestCalls[Math.floor((longestCalls.length - 1) / 2)],
        firstLongestCallWorst: longestCalls[longestCalls.length - 1],
        bareFirstCpuMs: {
          withLedger: median(bareWithLedger),
          withoutLedger: median(bareWithoutLedger),
        },
        freshProcessFirstCpuMs: median(fresh.map((f) => f.cpuMs)),
        freshProcessLongestGapMs: {
          flusher: median(fresh.map((f) => f.longestGapMs)),
          bareLoop: median(freshBare.map((f) => f.longestGapMs)),
        },
        unchanged: medianSample(unchanged),
        tenPercentChanged: medianSample(changed),
        bareChangedSendCpuMs: median(bareChanged),
        emptyStepCpuMs: median(emptySteps),
        redisBytesPerSeries: median(bytesPerSeries),
      });
      const last = results[results.length - 1];
      const cpu = (s: FlushSample) =>
        `${s.cpuMs.toFixed(1)} ms CPU (spread ${(s.cpuSpread * 100).toFixed(0)}%)`;
      console.log(
        `  flush ${series} series: first ${cpu(last.first)} (bare loop ${last.bareFirstCpuMs.withLedger.toFixed(1)} ms with its ledger, ${last.bareFirstCpuMs.withoutLedger.toFixed(1)} ms without; in a fresh process ${last.freshProcessFirstCpuMs.toFixed(1)} ms, event loop held at most ${last.freshProcessLongestGapMs.flusher.toFixed(1)} ms against ${last.freshProcessLongestGapMs.bareLoop.toFixed(1)} for the bare loop), unchanged ${cpu(last.unchanged)}, 10% changed ${cpu(last.tenPercentChanged)} (bare send of those series ${last.bareChangedSendCpuMs.toFixed(1)} ms), ${last.redisBytesPerSeries.toFixed(0)} B/series in Redis`,
      );
    }
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
  return results;
}
