// Summary quantiles across processes: how close the merged quantiles are to the exact ones, what a
// window weighs in Redis, and what summaries add to a flush and to a scrape (section 7 of
// docs/benchmarks.md; `npm run bench -- --only quantiles` reruns it alone).
import { Redis } from 'ioredis';
import {
  MetricsFlusher,
  ProcessIdentity,
  RedisMetricsStore,
  RedisMultiProcessCollector,
} from 'nestjs-redis-metrics';
import { Registry, Summary } from 'prom-client';

import { fixed, median, since, table, withCpuMs } from './lib/stats.js';

export interface QuantilesPlan {
  /** Processes, each with its own distribution. */
  processes: number;
  /** Observations per process. */
  observations: number;
  /** Summary series per process for the flush and scrape costs. */
  series: number;
  repeats: number;
}

export interface QuantilesResult {
  plan: QuantilesPlan;
  /** Quantile -> |rank of the merged value - quantile|, as a fraction of all observations. */
  rankErrors: [number, number][];
  /** Size of one stored window (bytes of its text), median over the processes, and its centroids. */
  windowBytes: number;
  centroids: number;
  /** CPU of a flush where every summary series changed / none did, ms, median. */
  flushChangedCpuMs: number;
  flushUnchangedCpuMs: number;
  /** Wall time of a scrape merging every process's windows of every series, ms, median. */
  scrapeMs: number;
}

/** Seeded values (mulberry32), skewed differently for each process. */
function draw(process: number): () => number {
  let state = (process + 1) >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const shapes = [
    () => -Math.log(1 - random()),
    () => Math.exp(normal()),
    () => 5 + random(),
    () => 1 / Math.pow(1 - random(), 1 / 1.5),
    () => 2 + 0.1 * normal(),
    () => (random() < 0.9 ? 0.01 * random() : 10 + random()),
  ];
  return shapes[process % shapes.length];
}

export async function benchQuantiles(url: string, plan: QuantilesPlan): Promise<QuantilesResult> {
  const client = new Redis(url);
  const percentiles = [0.5, 0.9, 0.99];
  const prefix = `bench-quantiles-${Date.now()}`;
  try {
    const all: number[] = [];
    const processes = Array.from({ length: plan.processes }, (_, p) => {
      const registry = new Registry();
      const summary = new Summary({
        name: 'work_seconds',
        help: 'Work',
        labelNames: ['series'],
        percentiles,
        registers: [registry],
      });
      const next = draw(p);
      for (let i = 0; i < plan.observations; i += 1) {
        const value = next();
        all.push(value);
        summary.observe({ series: '0' }, value);
        for (let s = 1; s < plan.series; s += 1) summary.observe({ series: String(s) }, value);
      }
      const flusher = new MetricsFlusher({
        store: new RedisMetricsStore(client, prefix),
        identity: ProcessIdentity.create({ hostname: 'bench', pid: p + 1 }),
        registry,
        intervalMs: 60_000,
        gaugeModeOf: () => 'all',
      });
      return { summary, flusher, next };
    });
    for (const { flusher } of processes) await flusher.flush();

    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });
    const families = await collector.collect();
    const samples = families.find((f) => f.name === 'work_seconds')!.samples;
    all.sort((a, b) => a - b);
    const rankErrors = percentiles.map((p): [number, number] => {
      const value = samples.find(
        (s) => s.labels.series === '0' && s.labels.quantile === String(p),
      )!.value;
      let below = 0;
      while (below < all.length && all[below] <= value) below += 1;
      return [p, Math.abs(below / all.length - p)];
    });
    const sizes: number[] = [];
    const centroids: number[] = [];
    for (const { flusher } of processes) {
      const id = flusher.acknowledged()!.processId;
      const text = await client.hget(
        `{${prefix}}:gauges:${id}`,
        JSON.stringify(['work_seconds', { series: '0' }]),
      );
      sizes.push(Buffer.byteLength(text ?? ''));
      centroids.push((text ?? '').split(' ').length - 2);
    }

    const cpuOf = async (flusher: MetricsFlusher) => (await withCpuMs(() => flusher.flush())).cpuMs;
    const [first] = processes;
    const unchanged: number[] = [];
    const changed: number[] = [];
    const scrapes: number[] = [];
    for (let r = 0; r < plan.repeats; r += 1) {
      unchanged.push(await cpuOf(first.flusher));
      for (let s = 0; s < plan.series; s += 1)
        first.summary.observe({ series: String(s) }, first.next());
      changed.push(await cpuOf(first.flusher));
      const start = performance.now();
      await collector.collect();
      scrapes.push(since(start));
    }
    return {
      plan,
      rankErrors,
      windowBytes: median(sizes),
      centroids: median(centroids),
      flushChangedCpuMs: median(changed),
      flushUnchangedCpuMs: median(unchanged),
      scrapeMs: median(scrapes),
    };
  } finally {
    const keys = await client.keys(`{${prefix}}:*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  }
}

/** The figures as a section of docs/benchmarks.md. */
export function quantilesSection(result: QuantilesResult): string {
  const { plan } = result;
  return [
    '## Summary quantiles across processes',
    '',
    `${plan.processes} processes, ${plan.observations.toLocaleString('en')} observations each from a different distribution (most skewed), one summary with ${plan.series} label sets; the merged quantiles against the exact ones of all ${(plan.processes * plan.observations).toLocaleString('en')} values:`,
    '',
    table(
      ['quantile', 'rank error'],
      result.rankErrors.map(([p, error]) => [p, `${fixed(error * 100, 3)}%`]),
    ),
    '',
    table(
      ['what', 'figure'],
      [
        [
          'stored window (one series, one process)',
          `${result.windowBytes} bytes, ${result.centroids} centroids`,
        ],
        [
          `flush CPU, all ${plan.series} summary series changed`,
          `${fixed(result.flushChangedCpuMs, 2)} ms`,
        ],
        ['flush CPU, nothing changed', `${fixed(result.flushUnchangedCpuMs, 2)} ms`],
        [
          `scrape merging ${plan.processes} × ${plan.series} windows`,
          `${fixed(result.scrapeMs, 1)} ms`,
        ],
      ],
    ),
    '',
  ].join('\n');
}
