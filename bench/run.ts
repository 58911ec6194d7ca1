// `npm run bench [-- --quick] [--out DIR] [--only SECTION,...] [--modes MODE,...] [--rounds N]
// [--epochs N] [--seconds S]`: runs the benchmarks against a private redis-server and rewrites
// docs/benchmarks.md and its chart (or writes them to DIR). With --only, runs just the named sections
// (hot-path, redis-load, scrape, flush, stall, staleness, quantiles, churn, write-cost) and replaces just them in the report already there. --modes,
// --rounds, --epochs and --seconds change the hot path's designs, rounds, server restarts and window,
// for a closer look. Progress goes to the console.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { benchChurn } from './churn.js';
import { benchFlush } from './flush.js';
import { benchHotPath, benchRedisLoad } from './hot-path.js';
import { DEFAULT_HOT_PATH_MODES, HOT_PATH_MODES, type HotPathMode } from './hot-path/modes.js';
import { logLogChart } from './lib/chart.js';
import { startPrivateRedis } from './lib/private-redis.js';
import {
  renderReport,
  replaceSections,
  SECTIONS,
  type BenchResults,
  type SectionName,
} from './report.js';
import { benchQuantiles } from './quantiles.js';
import { benchScrape } from './scrape.js';
import { benchStaleness } from './staleness.js';
import { benchStall } from './stall.js';
import { benchWriteCost } from './write-cost.js';

const quick = process.argv.includes('--quick');
/** The value after a flag, if given. */
function option(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index > 0 ? process.argv[index + 1] : undefined;
}
const out = option('--out');
const docs = out ? pathToFileURL(`${resolve(out)}/`) : new URL('../../docs/', import.meta.url);

function listOption<T extends string>(flag: string, allowed: readonly string[]): T[] | undefined {
  const names = option(flag)?.split(',');
  for (const name of names ?? []) {
    if (!allowed.includes(name))
      throw new Error(`${flag}: ${name} is not one of ${allowed.join(', ')}`);
  }
  return names as T[] | undefined;
}
const only = listOption<SectionName>('--only', Object.keys(SECTIONS));
const runs = (section: SectionName) => !only || only.includes(section);
const hotPathModes =
  listOption<HotPathMode>('--modes', Object.keys(HOT_PATH_MODES)) ?? DEFAULT_HOT_PATH_MODES;
const CHART = 'benchmarks-scrape.svg';

const plan = quick
  ? {
      flush: { sizes: [1000, 10_000], repeats: 3 },
      scrape: {
        processes: [1, 8],
        series: [100, 1000],
        distinct: [[8, 100]] as [number, number][],
        iterations: 10,
        budgetMs: 3000,
      },
      redisLoad: { seconds: 3, rates: [100, 1000] },
      hotPath: { seconds: 0.25, rounds: 6, epochs: 1, warmUpSeconds: 1, idleSeconds: 1 },
      stall: { stallSeconds: 2 },
      staleness: { trials: 10, processes: 3, flushIntervalMs: 250 },
      quantiles: { processes: 4, observations: 20_000, series: 4, repeats: 3 },
      churn: { kills: 3 },
      writeCost: { series: 500, rounds: 5 },
    }
  : {
      flush: { sizes: [1000, 10_000, 100_000], repeats: 9 },
      scrape: {
        processes: [1, 8, 32, 64],
        series: [100, 1000, 10_000],
        distinct: [[64, 1000]] as [number, number][],
        iterations: 50,
        budgetMs: 8000,
      },
      redisLoad: { seconds: 5, rates: [100, 1000] },
      hotPath: { seconds: 0.5, rounds: 80, epochs: 20, warmUpSeconds: 1, idleSeconds: 4 },
      stall: { stallSeconds: 5 },
      staleness: { trials: 50, processes: 3, flushIntervalMs: 250 },
      quantiles: { processes: 8, observations: 100_000, series: 10, repeats: 5 },
      churn: { kills: 30 },
      writeCost: { series: 2000, rounds: 25 },
    };

/** The command line that reproduces this run, for the report. */
const command = [
  'npm run bench',
  ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
]
  .join(' ')
  .replace(/ --out \S+/, '');

function writeChart(scrape: BenchResults['scrape']): void {
  const point = (r: (typeof scrape)[number], medianMs: number) => ({
    x: r.processes * r.seriesPerProcess,
    y: medianMs,
    note: `${r.processes}×${r.seriesPerProcess}`,
  });
  writeFileSync(
    new URL(CHART, docs),
    logLogChart({
      title: 'Scrape latency (median) against series in all processes',
      xLabel: 'series in all processes (processes × series per process)',
      yLabel: 'milliseconds per scrape',
      lines: [
        {
          label: 'this module (Redis)',
          color: '#1f77b4',
          points: scrape.filter((r) => !r.distinct).map((r) => point(r, r.module.medianMs)),
        },
        {
          label: 'AggregatorRegistry (IPC)',
          color: '#d62728',
          points: scrape
            .filter((r) => !r.distinct && !r.aggregator.failure)
            .map((r) => point(r, r.aggregator.medianMs)),
        },
      ],
    }),
  );
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const startLoad = loadavg()[0].toFixed(1);
  const report = new URL('benchmarks.md', docs);
  if (only && !existsSync(report)) {
    throw new Error(`${report.pathname} is missing: run \`npm run bench\` first.`);
  }
  const redis = await startPrivateRedis();
  console.log(`Benchmarks (${quick ? 'quick' : 'full'}) against redis-server ${redis.version}`);
  try {
    const results: Partial<BenchResults> = { quick, startedAt, redisVersion: redis.version };
    if (runs('flush')) {
      console.log('Flush cost');
      results.flush = await benchFlush(redis.url, plan.flush);
    }
    if (runs('scrape')) {
      console.log('Scrape latency');
      results.scrape = await benchScrape(redis.url, plan.scrape);
      writeChart(results.scrape);
      results.chartFile = CHART;
    }
    if (runs('redis-load')) {
      console.log('Redis load per request');
      results.redisLoad = await benchRedisLoad(redis.url, plan.redisLoad);
    }
    if (runs('hot-path')) {
      console.log('Hot path');
      const hotPathPlan = {
        ...plan.hotPath,
        rounds: Number(option('--rounds') ?? plan.hotPath.rounds),
        epochs: Number(option('--epochs') ?? plan.hotPath.epochs),
        seconds: Number(option('--seconds') ?? plan.hotPath.seconds),
      };
      results.hotPath = {
        results: await benchHotPath(redis.url, { ...hotPathPlan, modes: hotPathModes }),
        plan: hotPathPlan,
      };
    }
    if (runs('stall')) {
      console.log('Routes during a Redis stall');
      results.stall = await benchStall(plan.stall);
    }
    if (runs('staleness')) {
      console.log('Fresh scrapes');
      results.staleness = await benchStaleness(redis.url, plan.staleness);
    }
    if (runs('quantiles')) {
      console.log('Summary quantiles');
      results.quantiles = await benchQuantiles(redis.url, plan.quantiles);
    }
    if (runs('churn')) {
      console.log('SIGKILL churn');
      results.churn = await benchChurn(redis.url, plan.churn);
    }
    if (runs('write-cost')) {
      console.log('Redis cost of a write, by series type');
      results.writeCost = await benchWriteCost(redis.url, plan.writeCost);
    }
    results.durationS = (Date.now() - startedAt.getTime()) / 1000;
    if (only) {
      results.origin = `This section was rewritten alone by \`${command}\` on ${startedAt.toISOString().slice(0, 10)} (${results.durationS.toFixed(0)} s; CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores, which may not be the machine of the other sections; Redis ${redis.version}; load average ${startLoad} at the start and ${loadavg()[0].toFixed(1)} at the end: other work on the machine inflates CPU times and their spread).`;
    }
    writeFileSync(
      report,
      only
        ? replaceSections(readFileSync(report, 'utf8'), results, only)
        : renderReport(results as BenchResults),
    );
    console.log(
      `Wrote ${only ? `section(s) ${only.join(', ')} of ` : ''}${report.pathname} in ${results.durationS.toFixed(0)} s`,
    );
  } finally {
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
