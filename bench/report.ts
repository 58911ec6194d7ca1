import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';

import type { ChurnResult } from './churn.js';
import type { FlushCost } from './flush.js';
import { compareHotPath, type HotPathResult, type RedisLoadResult } from './hot-path.js';
import type { HotPathMode } from './hot-path/modes.js';
import { fixed, interquartileSpread, median, rangeSpread, table } from './lib/stats.js';
import type { QuantilesResult } from './quantiles.js';
import {
  churnSection,
  quantileSection,
  stallSection,
  stalenessSection,
} from './report-reliability.js';
import type { ScrapeResult } from './scrape.js';
import type { StalenessResult } from './staleness.js';
import type { StallResult } from './stall.js';
import type { WriteCost } from './write-cost.js';

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
      idleSeconds: number;
    };
  };
  redisLoad: RedisLoadResult[];
  scrape: ScrapeResult[];
  flush: FlushCost[];
  stall: StallResult;
  staleness: StalenessResult[];
  quantiles: QuantilesResult;
  churn: ChurnResult;
  writeCost: WriteCost[];
  chartFile: string;
  /** Which run wrote the sections, when they were rewritten alone (`--only`). */
  origin?: string;
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
      fixed(median(r.idleCpuMsPerSecond)),
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
  const { rounds, epochs, seconds, warmUpSeconds, idleSeconds } = hotPath.plan;
  const background = HOT_PATH_COMPARISONS.filter(
    ({ design, baseline, tolerance }) =>
      tolerance !== undefined && byMode.has(design) && byMode.has(baseline),
  ).map(({ design, baseline }) => {
    const ofDesign = byMode.get(design)!;
    const extraMsPerS =
      median(ofDesign.idleCpuMsPerSecond) - median(byMode.get(baseline)!.idleCpuMsPerSecond);
    const rate = median(ofDesign.windows.map((w) => w.requestsPerSecond));
    return `- ${design} against ${baseline}, idle: ${signed(extraMsPerS)} ms of CPU per second, ${signed((extraMsPerS * 1000) / rate, 2)} µs per request at ${fixed(rate, 0)} requests/s (the design's median), if a loaded server paid all of it.`;
  });
  return [
    '## 1. Hot path',
    '',
    ...(results.origin ? [results.origin, ''] : []),
    `One NestJS worker per design (Express, unless the design says Fastify) serving \`GET /work\`, which increments a counter and observes a histogram, under autocannon with 10 connections. In each of ${rounds} rounds every design serves a ${seconds} s window, in the order of the table in even rounds and the reverse in odd ones, so that the two designs of each goal serve back to back, in turn first and second. The rounds are split into ${epochs} epoch(s), each with fresh server processes, started and warmed up (${warmUpSeconds} s of load) all at once: two processes of the same design differ by a few percent for their whole life, which only new processes average out. Server CPU per request is the server's \`process.cpuUsage()\` over a window ÷ the requests it answered. The machine has 2 cores shared by the server, autocannon and whatever else runs: requests per second also depend on how much of them the server gets, so the goals are held on CPU per request, which is what bounds a saturated worker's throughput; both move with the machine's load, which the pairing below takes care of. Spreads over the rounds are (third quartile − first quartile) ÷ median and (largest − smallest) ÷ median.`,
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
        'idle CPU, ms per second (median)',
      ],
      rows,
    ),
    '',
    `Idle CPU is each server's \`process.cpuUsage()\` (every thread) over ${idleSeconds} s with no request at all, once per epoch after its rounds (and a second for the last flushes to settle), every server idle at the same time: the background work of a design (timers, the module's flushes every 250 ms, collecting default metrics), which a server under load pays as well. Against the baselines of the goals, the difference of the medians:`,
    '',
    ...background,
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
    "The same worker at a fixed request rate (autocannon `overallRate`), Redis `CONFIG RESETSTAT` before and `INFO commandstats` after the window. Counts include the commands Redis runs inside the module's scripts; the module sends one `EVALSHA` per flush (every 250 ms by default). The write-through design is a few lines in `bench/hot-path/server.ts`: one `HINCRBYFLOAT` per counter increment and two per histogram observation, as the original writes on every update.",
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
      `First flush of 100,000 series, at most 300 ms CPU: ${ms(large.freshProcessFirstCpuMs)} ms in a process of its own (as at a real start, with code V8 has not optimised yet) and ${ms(large.first.cpuMs)} ms for a new flusher in a process that has flushed before; ${verdict(Math.max(large.freshProcessFirstCpuMs, large.first.cpuMs) <= 300)}. In the same repeats as the latter, the bare loop took ${ms(large.bareFirstCpuMs.withLedger)} ms with a ledger as the flusher keeps (a record per series in a map by field: what it read, what Redis acknowledged) and ${ms(large.bareFirstCpuMs.withoutLedger)} ms without: ${large.first.cpuMs <= large.bareFirstCpuMs.withLedger * 1.1 ? 'the flusher costs no more than 10% over the bare loop with the same ledger (which escapes nothing and keeps no repair state)' : 'the flusher costs more than 10% over the bare loop with the same ledger'}${large.bareFirstCpuMs.withLedger > 300 ? `; that least is past the goal on this machine, ${large.bareFirstCpuMs.withoutLedger > 300 ? 'and so is the loop without the ledger' : 'while the loop without the ledger is not'}` : ''}.`,
    );
  }
  for (const r of flush.filter((row) => row.series >= 10_000)) {
    const ratio = r.tenPercentChanged.cpuMs / r.unchanged.cpuMs;
    const perChanged = (r.tenPercentChanged.cpuMs * 1000) / (r.series / 10);
    // A flush with changes does all a flush where nothing changed does, and sends the lines on top;
    // both figures count a collection of the young generation, which such a flush makes once.
    const least = r.unchanged.cpuMs + r.bareChangedSendCpuMs - r.emptyStepCpuMs;
    const leastRatio = least / r.unchanged.cpuMs;
    lines.push(
      `10% changed at ${r.series} series, at most 2× the unchanged cost: ×${fixed(ratio, 1)} (${ms(r.tenPercentChanged.cpuMs)} against ${ms(r.unchanged.cpuMs)} ms); ${verdict(ratio <= 2)}. The flush costs about ${fixed(perChanged, 2)} µs per changed series here. The bare send, which only packs and sends the lines of the same series, told which changed and with their fields built, took ${ms(r.bareChangedSendCpuMs)} ms in the same rounds. A flush with changes also does all that a flush where nothing changed does (only its heartbeat call can ride along), so the least it can cost is about the two together, less the one collection of the young generation both count and such a flush makes once (an empty step measured the same way, in the same rounds: ${ms(r.emptyStepCpuMs)} ms), ${ms(least)} ms: ×${fixed(leastRatio, 2)} the unchanged cost${leastRatio > 2 ? ', past the goal before the flusher does anything of its own' : ''}; the flusher spends ${ms(r.tenPercentChanged.cpuMs - least)} ms over it.`,
    );
  }
  if (large) {
    lines.push(
      `Longest single Redis call of a first flush of ${large.series} series (median over the ${large.first.repeats} first flushes; the worst of them ${ms(large.firstLongestCallWorst.ms)} ms): ${ms(large.firstLongestCall.ms)} ms in ${large.firstCalls} calls (goal: at most 20 ms); ${verdict(large.firstLongestCall.ms <= 20)}.`,
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
    `${ms(r.freshProcessFirstCpuMs)} / ${ms(r.freshProcessLongestGapMs.flusher)} / ${ms(r.freshProcessLongestGapMs.bareLoop)}`,
    `${r.firstCalls} / ${ms(r.firstLongestCall.ms)}`,
    `${ms(r.bareFirstCpuMs.withLedger)} / ${ms(r.bareFirstCpuMs.withoutLedger)}`,
    `${ms(r.unchanged.cpuMs)} / ${ms(r.unchanged.wallMs)} / ${ms(r.unchanged.redisCpuMs)} (${spread(r.unchanged)})`,
    `${ms(r.tenPercentChanged.cpuMs)} / ${ms(r.tenPercentChanged.wallMs)} / ${ms(r.tenPercentChanged.redisCpuMs)} (${spread(r.tenPercentChanged)})`,
    ms(r.bareChangedSendCpuMs),
    fixed(r.redisBytesPerSeries, 0),
  ]);
  const repeats = flush[0]?.first.repeats ?? 0;
  const steadyRepeats = flush[0]?.unchanged.repeats ?? 0;
  return [
    '## 4. Flush cost per process',
    '',
    ...(origin ? [origin, ''] : []),
    `One process whose registry holds the given number of counter series, flushing to Redis (process CPU from \`process.cpuUsage()\`, Redis CPU from \`INFO cpu\`; median of ${repeats} repeats of the first flush and of ${steadyRepeats} of each later kind, and in brackets how far the repeats' CPU spread: (largest - smallest) / median). A flush after the first costs a few milliseconds or less, about what one collection of V8's young generation can cost, and a collection costs what is still alive in the young generation, so each such flush (and each bare send) is measured with its own: the young generation is collected twice before it, not counted, so that what earlier steps left alive is out of it, and once after it, counted, which copies what the flush left alive. Without that, a flush with 10% changed paid for the benchmark's increments in some rounds and not in others. The first flush writes every series, split into bounded script calls (a flush sends up to 8 before the first reply, each a write on top of the one before: docs/decisions.md, "A flush's batches go as a chain"), each repeat as a new process on an empty Redis; the longest call is by Redis's own clock (\`SLOWLOG\`), the median over the repeats of each first flush's longest call. A flush reads only what changed in prom-client's own per-series state since the last one (docs/decisions.md, "A flush costs what changed"). The first flush is also timed in a node process of its own each repeat, as at a real start: the code has not been optimised by V8 yet, which a new flusher in a process that has flushed before does not pay; there the longest the event loop waited (\`monitorEventLoopDelay\`, 1 ms resolution) is measured too, for the flusher, which builds at most 8,192 fields of a counter before it yields, and for the bare loop in a process of its own, which builds every field before it yields (docs/decisions.md, "A first read of a large metric lets the event loop run"). The bare loop (bench/lib/bare-first-flush.ts) is the least a first flush can do, measured in the same repeats: list the series, copy the labels, build the fields, send the lines in calls of 500 series, 8 before the first reply as the flusher sends, to a script that only returns; once with a ledger of every series, as the flusher keeps what it read and what Redis acknowledged (a record per series in one map by field), and once without. In each round with 10% changed, the bare send (bench/lib/bare-changed-send.ts) is the least a flush of those series can do, timed in the same round, before the flusher in every other round and after it in the others (the series of each round are built before the first round): told which series changed, with their fields built beforehand (every series' field in the registry's order, as a first flush builds them, so that the changed tenth's fields lie spread among the others as a flusher's do: built tenth by tenth they would lie side by side, and sending them cost about 40% less), it packs their values and sends the lines in calls of 500 series, 8 before the first reply as the flusher sends, to a script that only returns. An empty step is timed the same way in each of those rounds (its own collection of the young generation and nothing else): the unchanged flush and the bare send each count one collection, which a flush with changes makes once, so the floor takes it out once. Before each first flush the last repeat's flusher is let go and garbage is collected, as a real process starts with no earlier flusher. Redis memory per series (the median over the repeated first flushes, on an empty Redis each time) counts the shared total and the process's own previous value (what the write script subtracts); a second process writing the same series adds only its own previous values.`,
    '',
    table(
      [
        'series',
        'first flush: CPU / wall (ms)',
        "first flush in a process of its own: CPU / longest event-loop wait / the bare loop's longest wait (ms)",
        'first flush: calls / longest Redis call (ms)',
        'bare first-flush loop, CPU with / without a ledger (ms)',
        'nothing changed: CPU / wall / Redis CPU (ms)',
        '10% changed: CPU / wall / Redis CPU (ms)',
        'bare send of the changed tenth: CPU (ms)',
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
    stallSection(results.stall),
    '',
    stalenessSection(results.staleness),
    '',
    quantileSection(results.quantiles),
    '',
    churnSection(results.churn, results.flush),
    '',
    writeCostSection(results.writeCost),
    '',
  ].join('\n');
}

function writeCostSection(costs: WriteCost[]): string {
  const counter = costs.find((row) => row.type === 'counter');
  const first = costs[0];
  const rows = costs.map((row) => [
    row.type === 'histogram' ? 'histogram (11 buckets)' : row.type,
    fixed(row.medianUs, 1),
    `${fixed(row.spread * 100, 0)}%`,
    counter ? `×${fixed(row.medianUs / counter.medianUs, 1)}` : '',
  ]);
  return [
    '## 9. What a write costs Redis, by series type',
    '',
    `One process flushing ${first.series} series of one type to the private redis-server, every series changed before each of ${first.rounds} flushes (a counter incremented, a gauge set, a histogram observed once); the write script's own time by Redis' clock (\`INFO commandstats\`, the microseconds of its \`EVALSHA\` calls) per changed series, the median of the flushes, and their spread ((third quartile − first quartile) ÷ median). A counter-like series is written as its absolute value: the script reads three texts (the new value, the process's previous one, the shared total) and writes the new total, so a histogram's cost grows with its buckets; a gauge is only stored (docs/decisions.md, "A flush costs what changed").`,
    '',
    table(['series type', 'Redis µs per changed series', 'spread', 'against a counter'], rows),
  ].join('\n');
}

/** The sections `--only` may name, in the report's order, with the heading each one starts with. */
export const SECTIONS = {
  'hot-path': { heading: '## 1. ', render: hotPathSection },
  'redis-load': { heading: '## 2. ', render: redisLoadSection },
  scrape: { heading: '## 3. ', render: scrapeSection },
  flush: {
    heading: '## 4. ',
    render: (results: BenchResults) => flushSection(results.flush, results.origin),
  },
  stall: { heading: '## 5. ', render: (results: BenchResults) => stallSection(results.stall) },
  staleness: {
    heading: '## 6. ',
    render: (results: BenchResults) => stalenessSection(results.staleness),
  },
  quantiles: {
    heading: '## 7. ',
    render: (results: BenchResults) => quantileSection(results.quantiles),
  },
  churn: {
    heading: '## 8. ',
    render: (results: BenchResults) => churnSection(results.churn, results.flush),
  },
  'write-cost': {
    heading: '## 9. ',
    render: (results: BenchResults) => writeCostSection(results.writeCost),
  },
} as const;

export type SectionName = keyof typeof SECTIONS;

/**
 * A section rewritten alone says which run wrote it, under its heading: the report's header names the
 * machine of the full run, which may not be this one. (Sections 1 and 4 place it themselves.)
 */
function withOrigin(section: string, origin: string | undefined): string {
  if (origin === undefined || section.includes(origin)) return section;
  const headingEnd = section.indexOf('\n');
  return `${section.slice(0, headingEnd)}\n\n${origin}${section.slice(headingEnd)}`;
}

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
    const section = withOrigin(render(results as BenchResults), results.origin);
    text = `${text.slice(0, start + 1)}${section}\n${next < 0 ? '' : text.slice(end)}`;
  }
  return text;
}
