import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';

import type { FlushCost } from './flush.js';
import type { HotPathResult, RedisLoadResult } from './hot-path.js';
import { fixed, table } from './lib/stats.js';
import type { ScrapeResult } from './scrape.js';

/** Everything one `npm run bench` measured. */
export interface BenchResults {
  quick: boolean;
  startedAt: Date;
  durationS: number;
  redisVersion: string;
  hotPath: HotPathResult[];
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

const percent = (ratio: number) => `${ratio >= 1 ? '+' : ''}${fixed((ratio - 1) * 100)}%`;
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

function hotPathSection(results: BenchResults): string {
  const baseline = results.hotPath.find((r) => r.mode === 'prom-client')!;
  const module = results.hotPath.find((r) => r.mode === 'module')!;
  const ratio = module.requestsPerSecond / baseline.requestsPerSecond;
  const rows = results.hotPath.map((r) => [
    `${r.mode} (${r.description})`,
    fixed(r.requestsPerSecond, 0),
    percent(r.requestsPerSecond / baseline.requestsPerSecond),
    `${fixed(r.spread * 100)}%`,
    ms(r.p50Ms),
    ms(r.p99Ms),
  ]);
  const noise = Math.max(baseline.spread, module.spread);
  const goal =
    ratio >= 0.97
      ? `met: this module serves ${percent(ratio)} requests per second against plain prom-client (goal: within 3%). The rounds of one design spread by up to ${fixed(noise * 100)}% here, so a difference smaller than that is the machine, not the design.`
      : `missed by ${fixed((0.97 - ratio) * 100)} points: this module serves ${percent(ratio)} against plain prom-client (goal: within 3%; the rounds of one design spread by up to ${fixed(noise * 100)}%).`;
  return [
    '## 1. Hot path',
    '',
    `One NestJS worker (Express) serving \`GET /work\`, which increments a counter and observes a histogram; autocannon with 10 connections for the measured window after a 1 s warm-up, ${results.hotPath[0].rounds} round(s) per design taking turns, median of the rounds. Ratios are to plain prom-client in the same run.`,
    '',
    table(
      [
        'design',
        'requests/s',
        'vs prom-client',
        'spread of the rounds',
        'p50 latency (ms)',
        'p99 latency (ms)',
      ],
      rows,
    ),
    '',
    `Goal: ${goal}`,
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
    r.distinct ? 'own series per process' : 'the same series in every process',
    r.distinct ? r.processes * r.seriesPerProcess : r.seriesPerProcess,
    ms(r.module.medianMs),
    ms(r.module.p99Ms),
    `${ms(r.longestRedisCall.ms)} (${r.longestRedisCall.command})`,
    r.aggregator.failure ? `failed: ${r.aggregator.failure}` : ms(r.aggregator.medianMs),
    r.aggregator.failure ? '' : ms(r.aggregator.p99Ms),
    r.aggregator.failure ? '' : `×${fixed(r.aggregator.medianMs / r.module.medianMs, 2)}`,
    `${r.module.samples}/${r.aggregator.samples}`,
  ]);
  return [
    '## 3. Scrape latency',
    '',
    "Real node:cluster workers each hold the given number of counter series (`bench_requests_total{method,route,series,status}`) in prom-client and flush them to Redis once. The primary then times, on the same workers: this module's `RedisMultiProcessCollector.metrics()` (a small script for the index and metadata, bounded HSCAN calls over the shared totals and each process's gauges, the merge, prom-client formatting), and prom-client's `AggregatorRegistry.clusterMetrics()` (every worker serialises its registry over IPC, the primary merges and formats). Each answer is checked for the right merged value. The longest Redis call is the longest single command of the module's scrapes by Redis's own clock (`SLOWLOG`): how long one scrape call stops a shared Redis. AggregatorRegistry gives up after 5 s (its built-in timeout).",
    '',
    table(
      [
        'processes',
        'series/process',
        'series',
        'distinct series',
        'module median (ms)',
        'module p99 (ms)',
        'longest Redis call (ms)',
        'AggregatorRegistry median (ms)',
        'AggregatorRegistry p99 (ms)',
        'AggregatorRegistry time ÷ module time',
        'samples',
      ],
      rows,
    ),
    '',
    ...scrapeGoals(results.scrape).map((line) => `- ${line}`),
    '',
    `![Scrape latency against series count](${results.chartFile})`,
  ].join('\n');
}

/** Whether each goal of the scrape table is met, in words with the figures. */
function scrapeGoals(scrape: ScrapeResult[]): string[] {
  const find = (processes: number, series: number) =>
    scrape.find((r) => !r.distinct && r.processes === processes && r.seriesPerProcess === series);
  const largest = find(64, 10_000);
  const single = find(1, 10_000);
  if (!largest || !single) {
    return ['Goals (stated at 64 × 10,000): not measured in a quick run; run `npm run bench`.'];
  }
  const verdict = (met: boolean) => (met ? 'met' : 'missed');
  const speedup = largest.aggregator.medianMs / largest.module.medianMs;
  const slower = scrape.filter(
    (r) =>
      !r.distinct &&
      (r.processes >= 8 || r === single) &&
      !r.aggregator.failure &&
      r.module.medianMs > r.aggregator.medianMs,
  );
  const growth = largest.module.medianMs / single.module.medianMs;
  const distinct = scrape.filter((r) => r.distinct);
  return [
    `64 × 10,000, median at most 100 ms and at least 15× faster than AggregatorRegistry: ${ms(largest.module.medianMs)} ms, ×${fixed(speedup, 1)}; ${verdict(largest.module.medianMs <= 100 && speedup >= 15)}.`,
    `At least as fast as AggregatorRegistry on every row of 8 or more processes and at 1 × 10,000: ${slower.length === 0 ? 'met' : `missed on ${slower.map((r) => `${r.processes} × ${r.seriesPerProcess} (${ms(r.module.medianMs)} against ${ms(r.aggregator.medianMs)} ms)`).join(', ')}`}.`,
    `From 1 to 64 processes at 10,000 series the module's median grows ×${fixed(growth, 2)} (goal: at most ×1.5); ${verdict(growth <= 1.5)}.`,
    `Longest single Redis call of a scrape at 64 × 10,000: ${ms(largest.longestRedisCall.ms)} ms (${largest.longestRedisCall.command}; goal: at most 20 ms); ${verdict(largest.longestRedisCall.ms <= 20)}.`,
    ...distinct.map(
      (r) =>
        `${r.processes} × ${r.seriesPerProcess} with every process holding its own series (no target: the totals hold ${r.processes * r.seriesPerProcess} series, nothing to share): module ${ms(r.module.medianMs)} ms against AggregatorRegistry ${r.aggregator.failure ? r.aggregator.failure : `${ms(r.aggregator.medianMs)} ms`}.`,
    ),
  ];
}

/** The goals of the flush-cost issue, in words with the figures. */
function flushGoals(flush: FlushCost[]): string[] {
  const at = (series: number) => flush.find((r) => r.series === series);
  const verdict = (met: boolean) => (met ? 'met' : 'missed');
  const lines: string[] = [];
  const small = at(10_000);
  const large = at(100_000);
  if (small) {
    lines.push(
      `Nothing changed at 10,000 series, at most 5 ms CPU: ${ms(small.unchanged.cpuMs)} ms; ${verdict(small.unchanged.cpuMs <= 5)}.`,
    );
  }
  if (large) {
    lines.push(
      `Nothing changed at 100,000 series, at most 40 ms CPU: ${ms(large.unchanged.cpuMs)} ms; ${verdict(large.unchanged.cpuMs <= 40)}.`,
      `First flush of 100,000 series, at most 300 ms CPU: ${ms(large.first.cpuMs)} ms; ${verdict(large.first.cpuMs <= 300)}.`,
    );
  }
  for (const r of flush.filter((row) => row.series >= 10_000)) {
    const ratio = r.tenPercentChanged.cpuMs / r.unchanged.cpuMs;
    const perChanged = (r.tenPercentChanged.cpuMs * 1000) / (r.series / 10);
    lines.push(
      `10% changed at ${r.series} series, at most 2× the unchanged cost: ×${fixed(ratio, 1)} (${ms(r.tenPercentChanged.cpuMs)} against ${ms(r.unchanged.cpuMs)} ms); ${verdict(ratio <= 2)}. Sending a changed series costs about ${fixed(perChanged, 1)} µs of CPU here, so once nothing-changed costs little more than the heartbeat call, 2× holds only for a few changed series.`,
    );
  }
  if (large) {
    lines.push(
      `Longest single Redis call of the first flush of ${large.series} series: ${ms(large.firstLongestCall.ms)} ms in ${large.firstCalls} calls (goal: at most 20 ms); ${verdict(large.firstLongestCall.ms <= 20)}.`,
    );
  }
  return lines.length > 0 ? lines : ['Goals (stated at 10,000 and 100,000 series): not measured.'];
}

/**
 * Section 4 of docs/benchmarks.md. `origin` says which run wrote it when it is rewritten alone
 * (`npm run bench -- --only flush`).
 */
export function flushSection(flush: FlushCost[], origin?: string): string {
  const spread = (s: FlushCost['first']) => `${fixed(s.cpuSpread * 100, 0)}%`;
  const rows = flush.map((r) => [
    r.series,
    `${ms(r.first.cpuMs)} / ${ms(r.first.wallMs)} (${spread(r.first)})`,
    `${r.firstCalls} / ${ms(r.firstLongestCall.ms)}`,
    `${ms(r.unchanged.cpuMs)} / ${ms(r.unchanged.wallMs)} / ${ms(r.unchanged.redisCpuMs)} (${spread(r.unchanged)})`,
    `${ms(r.tenPercentChanged.cpuMs)} / ${ms(r.tenPercentChanged.wallMs)} / ${ms(r.tenPercentChanged.redisCpuMs)} (${spread(r.tenPercentChanged)})`,
    fixed(r.redisBytesPerSeries, 0),
  ]);
  const repeats = flush[0]?.unchanged.repeats ?? 0;
  return [
    '## 4. Flush cost per process',
    '',
    ...(origin ? [origin, ''] : []),
    `One process whose registry holds the given number of counter series, flushing to Redis (process CPU from \`process.cpuUsage()\`, Redis CPU from \`INFO cpu\`; median of ${repeats} repeats, and in brackets how far the repeats' CPU spread: (largest - smallest) / median). The first flush writes every series, split into bounded script calls, each repeat as a new process on an empty Redis; the longest call is by Redis's own clock (\`SLOWLOG\`). A flush reads only what changed in prom-client's own per-series state since the last one (docs/decisions.md, "A flush costs what changed"). Redis memory per series counts the shared total and the process's own previous value (what the write script subtracts); a second process writing the same series adds only its own previous values.`,
    '',
    table(
      [
        'series',
        'first flush: CPU / wall (ms)',
        'first flush: calls / longest Redis call (ms)',
        'nothing changed: CPU / wall / Redis CPU (ms)',
        '10% changed: CPU / wall / Redis CPU (ms)',
        'Redis memory per series (bytes)',
      ],
      rows,
    ),
    '',
    ...flushGoals(flush).map((line) => `- ${line}`),
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
    flushSection(results.flush),
    '',
  ].join('\n');
}
