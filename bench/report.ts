import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';

import type { FlushCost } from './flush.js';
import { compareHotPath, type HotPathResult, type RedisLoadResult } from './hot-path.js';
import type { HotPathMode } from './hot-path/modes.js';
import { fixed, interquartileSpread, median, rangeSpread, table } from './lib/stats.js';
import type { ScrapeResult } from './scrape.js';

/** Everything one `npm run bench` measured. */
export interface BenchResults {
  quick: boolean;
  startedAt: Date;
  durationS: number;
  redisVersion: string;
  hotPath: {
    results: HotPathResult[];
    plan: {
      rounds: number;
      epochs: number;
      seconds: number;
      warmUpSeconds: number;
      command: string;
      measuredAt: Date;
    };
  };
  redisLoad: RedisLoadResult[];
  scrape: ScrapeResult[];
  flush: FlushCost[];
  chartFile: string;
}

const root = new URL('../../', import.meta.url);
function versionOf(pkg: string): string {
  const text = readFileSync(new URL(`node_modules/${pkg}/package.json`, root), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

const ms = (value: number) => fixed(value, value < 10 ? 2 : 1);

function machine(results: BenchResults): string {
  const cpu = cpus();
  return [
    `- CPU: ${cpu[0]?.model ?? 'unknown'}, ${cpu.length} cores; memory ${fixed(totalmem() / 2 ** 30)} GiB`,
    `- OS: ${type()} ${release()}`,
    `- Node ${process.versions.node}; Redis ${results.redisVersion} (a private redis-server, persistence off, on the same machine)`,
    `- prom-client ${versionOf('prom-client')}, ioredis ${versionOf('ioredis')}, @nestjs/core ${versionOf('@nestjs/core')}, @nestjs/platform-express ${versionOf('@nestjs/platform-express')}, autocannon ${versionOf('autocannon')}`,
  ].join('\n');
}

/** The comparisons section 1 reports, with the goal each one is held to, if any. */
const HOT_PATH_COMPARISONS: { design: HotPathMode; baseline: HotPathMode; tolerance?: number }[] = [
  { design: 'module', baseline: 'prom-client', tolerance: 0.03 },
  { design: 'module-defaults', baseline: 'hand-written', tolerance: 0.05 },
  { design: 'hand-written', baseline: 'prom-client' },
  { design: 'module-defaults', baseline: 'prom-client' },
  { design: 'module-defaults', baseline: 'module' },
  { design: 'module-http', baseline: 'module' },
  { design: 'module-default-metrics', baseline: 'module' },
  { design: 'module-async-http-off', baseline: 'module' },
  { design: 'write-through', baseline: 'prom-client' },
  { design: 'fastify-module', baseline: 'fastify-prom-client' },
  { design: 'fastify-module-http', baseline: 'fastify-module' },
  { design: 'fastify-module-defaults', baseline: 'fastify-module' },
  { design: 'fastify-module-defaults', baseline: 'fastify-prom-client' },
];

const signed = (value: number, digits = 1) => `${value >= 0 ? '+' : ''}${fixed(value, digits)}`;
const interval = (i: { median: number; low: number; high: number }, unit: string, scale = 1) =>
  Number.isNaN(i.low)
    ? `${signed(i.median * scale)}${unit}`
    : `${signed(i.median * scale)}${unit} (${signed(i.low * scale)} … ${signed(i.high * scale)})`;
const change = (ratio: { median: number; low: number; high: number }) =>
  interval({ median: ratio.median - 1, low: ratio.low - 1, high: ratio.high - 1 }, '%', 100);

/**
 * Holds a design's CPU per request against its baseline's: met when the whole 95% interval of the
 * ratio is inside the tolerance, missed when all of it is beyond.
 */
function verdict(cpuRatio: { low: number; high: number }, tolerance: number): string {
  const goal = `at most ${tolerance * 100}% more CPU per request`;
  if (Number.isNaN(cpuRatio.high)) return `${goal}: too few epochs to tell`;
  if (cpuRatio.high <= 1 + tolerance) return `${goal}: met`;
  if (cpuRatio.low > 1 + tolerance) return `${goal}: missed`;
  return `${goal}: not shown (the interval reaches past +${tolerance * 100}%)`;
}

function hotPathSection(results: BenchResults): string {
  const hotPath = results.hotPath;
  const byMode = new Map(hotPath.results.map((r) => [r.mode, r]));
  const rows = hotPath.results.map((r) => {
    const rps = r.windows.map((w) => w.requestsPerSecond);
    const cpu = r.windows.map((w) => w.cpuMicrosPerRequest);
    return [
      `${r.mode} (${r.description})`,
      fixed(median(rps), 0),
      `${fixed(interquartileSpread(rps) * 100)}% / ${fixed(rangeSpread(rps) * 100)}%`,
      fixed(median(cpu)),
      `${fixed(interquartileSpread(cpu) * 100)}% / ${fixed(rangeSpread(cpu) * 100)}%`,
      ms(median(r.windows.map((w) => w.p50Ms))),
      ms(median(r.windows.map((w) => w.p99Ms))),
    ];
  });
  const comparisons = HOT_PATH_COMPARISONS.filter(
    ({ design, baseline }) => byMode.has(design) && byMode.has(baseline),
  ).map(({ design, baseline, tolerance }) => {
    const c = compareHotPath(byMode.get(design)!, byMode.get(baseline)!);
    return [
      `${design} against ${baseline}`,
      interval(c.extraCpuMicros, ' µs'),
      change(c.cpuRatio),
      change(c.throughputRatio),
      tolerance === undefined ? '' : verdict(c.cpuRatio, tolerance),
    ];
  });
  const { rounds, epochs, seconds, warmUpSeconds, command, measuredAt } = hotPath.plan;
  return [
    '## 1. Hot path',
    '',
    `One NestJS worker per design (Express, unless the design says Fastify) serving \`GET /work\`, which increments a counter and observes a histogram, under autocannon with 10 connections. In each of ${rounds} rounds every design serves a ${seconds} s window, in the order of the table in even rounds and the reverse in odd ones, so that the two designs of each goal serve back to back, in turn first and second. The rounds are split into ${epochs} epoch(s), each with fresh server processes, started and warmed up (${warmUpSeconds} s of load) all at once: two processes of the same design differ by a few percent for their whole life, which only new processes average out. Server CPU per request is the server's \`process.cpuUsage()\` over a window ÷ the requests it answered. The machine has 2 cores shared by the server, autocannon and whatever else runs: requests per second also depend on how much of them the server gets, so the goals are held on CPU per request, which is what bounds a saturated worker's throughput; both move with the machine's load, which the pairing below takes care of. Spreads over the rounds are (third quartile − first quartile) ÷ median and (largest − smallest) ÷ median. Measured on ${measuredAt.toISOString().slice(0, 10)} by \`${command}\`.`,
    '',
    table(
      [
        'design',
        'requests/s (median)',
        'spread of the rounds (IQR / range)',
        'server CPU per request, µs (median)',
        'spread (IQR / range)',
        'p50 latency (ms)',
        'p99 latency (ms)',
      ],
      rows,
    ),
    '',
    'Each comparison pairs every round of a design with the same round of its baseline, takes the median of each epoch, and gives the median of the epochs and, in brackets, its 95% confidence interval (sign test: order statistics of the epochs, which a few windows disturbed by other processes cannot drag along; at least 6 epochs). A goal is met when the whole interval is inside it.',
    '',
    table(
      [
        'comparison',
        'extra server CPU per request, µs (95% CI)',
        'CPU per request (95% CI)',
        'requests/s (95% CI)',
        'goal',
      ],
      comparisons,
    ),
  ].join('\n');
}

function redisLoadSection(results: BenchResults): string {
  const rows = results.redisLoad.map((r) => [
    r.mode,
    r.targetRate,
    r.requests,
    r.commands,
    fixed(r.commandsPerRequest, 3),
    fixed(r.commandsPerSecond, 1),
    Object.entries(r.byCommand)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, calls]) => `${name} ${calls}`)
      .join(', '),
  ]);
  const module = results.redisLoad.filter((r) => r.mode === 'module');
  const low = module[0];
  const high = module[module.length - 1];
  const growth = high.commandsPerSecond / low.commandsPerSecond;
  return [
    '## 2. Redis load per request',
    '',
    "The same worker at a fixed request rate (autocannon `overallRate`), Redis `CONFIG RESETSTAT` before and `INFO commandstats` after the window. Counts include the commands Redis runs inside the module's scripts; the module sends one `EVALSHA` per flush (every 1 s by default). The write-through design is a few lines in `bench/hot-path/server.ts`: one `HINCRBYFLOAT` per counter increment and two per histogram observation, as the original writes on every update.",
    '',
    table(
      [
        'design',
        'target req/s',
        'requests',
        'Redis commands',
        'commands/request',
        'commands/s',
        'most called',
      ],
      rows,
    ),
    '',
    `Goal (the module's commands do not grow with the request rate): from ${low.targetRate} to ${high.targetRate} requests/s the module's Redis commands per second went ×${fixed(growth, 2)}, ${growth < 1.5 ? 'met' : 'missed'}; the write-through design's went ×${fixed(
      results.redisLoad.filter((r) => r.mode === 'write-through').at(-1)!.commandsPerSecond /
        results.redisLoad.filter((r) => r.mode === 'write-through')[0].commandsPerSecond,
      2,
    )}.`,
  ].join('\n');
}

function scrapeSection(results: BenchResults): string {
  const rows = results.scrape.map((r) => [
    r.processes,
    r.seriesPerProcess,
    r.processes * r.seriesPerProcess,
    ms(r.module.medianMs),
    ms(r.module.p99Ms),
    r.aggregator.failure ? `failed: ${r.aggregator.failure}` : ms(r.aggregator.medianMs),
    r.aggregator.failure ? '' : ms(r.aggregator.p99Ms),
    r.aggregator.failure ? '' : `×${fixed(r.aggregator.medianMs / r.module.medianMs, 2)}`,
    `${r.module.samples}/${r.aggregator.samples}`,
  ]);
  const largest = results.scrape.at(-1)!;
  const goalText =
    largest.processes === 64 && largest.seriesPerProcess === 10_000
      ? `Goal (under 1 s at 64 × 10,000): median ${ms(largest.module.medianMs)} ms, p99 ${ms(largest.module.p99Ms)} ms, ${largest.module.p99Ms < 1000 ? 'met' : largest.module.medianMs < 1000 ? 'met for the median, missed at p99' : `missed by ${fixed(largest.module.medianMs - 1000, 0)} ms`}.`
      : `Goal (under 1 s at 64 × 10,000): not measured in a quick run; run \`npm run bench\`.`;
  const missed = largest.processes === 64 && largest.module.medianMs >= 1000;
  const analysis = missed
    ? [
        '',
        "Where the time goes at the largest size (a profile of the same read on this machine, 64 × 10,000): the read is 1.2 to 1.4 s, of which Redis spends 0.3 to 0.45 s running the read script and the client about 0.8 s parsing 1.28 million reply strings (one per field and per value); turning them into series takes about 0.56 s, the merge about 0.1 s and the formatting 0.03 s. Fetching the hashes with MULTI/HGETALL instead of the script, or packing each process's pairs into one string in Lua, saved at most 0.3 s; shorter field names would shrink the bytes but not the number of strings, which is what costs. What would close the gap is to stop moving every process's counters at scrape time: the write script knows the old and the new absolute value of each series, so it could add the difference into one shared hash of totals for counters, histograms and summary sums, and a scrape would read about 10,000 totals instead of 640,000 per-process values (per-process gauges would still be read per process). That is a change of the storage layout and of the fold and recovery rules, left for its own issue: the per-process hashes are what makes replays, reaping and recovery after a Redis restart exact today.",
      ].join('\n')
    : '';
  return [
    '## 3. Scrape latency',
    '',
    "Real node:cluster workers each hold the given number of counter series (`bench_requests_total{method,route,series,status}`) in prom-client and flush them to Redis once. The primary then times, on the same workers: this module's `RedisMultiProcessCollector.metrics()` (one script call reading the prefix, the merge, prom-client formatting), and prom-client's `AggregatorRegistry.clusterMetrics()` (every worker serialises its registry over IPC, the primary merges and formats). Each answer is checked for the right merged value. AggregatorRegistry gives up after 5 s (its built-in timeout).",
    '',
    table(
      [
        'processes',
        'series/process',
        'series in all',
        'module median (ms)',
        'module p99 (ms)',
        'AggregatorRegistry median (ms)',
        'AggregatorRegistry p99 (ms)',
        'AggregatorRegistry time ÷ module time',
        'samples',
      ],
      rows,
    ),
    '',
    goalText,
    analysis,
    '',
    `![Scrape latency against series count](${results.chartFile})`,
  ].join('\n');
}

function flushSection(results: BenchResults): string {
  const rows = results.flush.map((r) => [
    r.series,
    `${ms(r.first.cpuMs)} / ${ms(r.first.wallMs)}`,
    `${ms(r.unchanged.cpuMs)} / ${ms(r.unchanged.wallMs)} / ${ms(r.unchanged.redisCpuMs)}`,
    `${ms(r.tenPercentChanged.cpuMs)} / ${ms(r.tenPercentChanged.wallMs)} / ${ms(r.tenPercentChanged.redisCpuMs)}`,
    fixed(r.redisBytesPerSeries, 0),
  ]);
  return [
    '## 4. Flush cost per process',
    '',
    'One process whose registry holds the given number of counter series, flushing to Redis (process CPU from `process.cpuUsage()`, Redis CPU from `INFO cpu`; median of the repeats). A flush reads the whole registry and compares it with what Redis acknowledged, so its CPU grows with the series held even when nothing changed; what it sends grows only with what changed.',
    '',
    table(
      [
        'series',
        'first flush: CPU / wall (ms)',
        'nothing changed: CPU / wall / Redis CPU (ms)',
        '10% changed: CPU / wall / Redis CPU (ms)',
        'Redis memory per series (bytes)',
      ],
      rows,
    ),
  ].join('\n');
}

/** docs/benchmarks.md, from one run. */
export function renderReport(results: BenchResults): string {
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench${results.quick ? ' -- --quick' : ''}\` on ${results.startedAt.toISOString().slice(0, 10)} (${results.quick ? 'quick run: smaller sizes, shorter windows' : 'full run'}, ${fixed(results.durationS, 0)} s). Do not edit by hand: run it again. Every comparison ran its baseline in the same run on the same machine.`,
    '',
    '## Machine',
    '',
    machine(results),
    '',
    hotPathSection(results),
    '',
    redisLoadSection(results),
    '',
    scrapeSection(results),
    '',
    flushSection(results),
    '',
  ].join('\n');
}

/** The sections `--only` may name, in the report's order, with the heading each one starts with. */
export const SECTIONS = {
  'hot-path': { heading: '## 1. ', render: hotPathSection },
  'redis-load': { heading: '## 2. ', render: redisLoadSection },
  scrape: { heading: '## 3. ', render: scrapeSection },
  flush: { heading: '## 4. ', render: flushSection },
} as const;

export type SectionName = keyof typeof SECTIONS;

/**
 * `markdown` (a report written before) with the named sections replaced by those of `results`, which
 * holds the measurements of those sections only; everything else, header included, is kept.
 */
export function replaceSections(
  markdown: string,
  results: Partial<BenchResults>,
  names: SectionName[],
): string {
  let text = markdown;
  for (const name of names) {
    const { heading, render } = SECTIONS[name];
    const start = text.indexOf(`\n${heading}`);
    if (start < 0) throw new Error(`no section starting with "${heading}" to replace`);
    const next = text.indexOf('\n## ', start + 1);
    const end = next < 0 ? text.length : next;
    const section = render(results as BenchResults);
    text = `${text.slice(0, start + 1)}${section}\n${next < 0 ? '' : text.slice(end)}`;
  }
  return text;
}
