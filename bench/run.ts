// `npm run bench [-- --quick] [--out DIR] [--only flush]`: runs every benchmark against a private
// redis-server and rewrites docs/benchmarks.md and its chart (or writes them to DIR). With `--only
// flush` it runs the flush benchmark alone and rewrites only its section of the existing report.
// Progress goes to the console.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { benchFlush } from './flush.js';
import { benchHotPath, benchRedisLoad } from './hot-path.js';
import { logLogChart } from './lib/chart.js';
import { startPrivateRedis } from './lib/private-redis.js';
import { flushSection, renderReport, type BenchResults } from './report.js';
import { benchScrape } from './scrape.js';

const quick = process.argv.includes('--quick');
const outIndex = process.argv.indexOf('--out');
const docs =
  outIndex > 0 && process.argv[outIndex + 1]
    ? pathToFileURL(`${resolve(process.argv[outIndex + 1])}/`)
    : new URL('../../docs/', import.meta.url);
const CHART = 'benchmarks-scrape.svg';
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex > 0 ? process.argv[onlyIndex + 1] : undefined;

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
      hotPath: { seconds: 3, rounds: 1 },
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
      hotPath: { seconds: 8, rounds: 3 },
    };

/** Runs the flush benchmark alone and replaces section 4 of the report in place. */
async function onlyFlush(): Promise<void> {
  const startedAt = new Date();
  const report = new URL('benchmarks.md', docs);
  if (!existsSync(report))
    throw new Error(`${report.pathname} is missing: run \`npm run bench\` first.`);
  const startLoad = loadavg()[0].toFixed(1);
  const redis = await startPrivateRedis();
  console.log(
    `Flush benchmark (${quick ? 'quick' : 'full'}) against redis-server ${redis.version}`,
  );
  try {
    const flush = await benchFlush(redis.url, plan.flush);
    const seconds = (Date.now() - startedAt.getTime()) / 1000;
    const load = loadavg()[0].toFixed(1);
    const origin = `This section was rewritten alone by \`npm run bench -- --only flush${quick ? ' --quick' : ''}\` on ${startedAt.toISOString().slice(0, 10)} (${seconds.toFixed(0)} s, the same machine; Redis ${redis.version}; load average ${startLoad} at the start and ${load} at the end, on ${cpus().length} cores: other work on the machine inflates CPU times and their spread).`;
    const text = readFileSync(report, 'utf8');
    const start = text.indexOf('## 4. Flush cost per process');
    if (start < 0) throw new Error(`${report.pathname} has no section 4 to replace.`);
    const next = text.indexOf('\n## ', start + 1);
    const rest = next < 0 ? '\n' : `\n${text.slice(next)}`;
    writeFileSync(report, `${text.slice(0, start)}${flushSection(flush, origin)}\n${rest}`);
    console.log(`Rewrote section 4 of ${report.pathname} in ${seconds.toFixed(0)} s`);
  } finally {
    await redis.stop();
  }
}

async function main(): Promise<void> {
  if (only === 'flush') return onlyFlush();
  if (only !== undefined) throw new Error(`--only takes "flush"; got "${only}"`);
  const startedAt = new Date();
  const redis = await startPrivateRedis();
  console.log(`Benchmarks (${quick ? 'quick' : 'full'}) against redis-server ${redis.version}`);
  try {
    console.log('Flush cost');
    const flush = await benchFlush(redis.url, plan.flush);
    console.log('Scrape latency');
    const scrape = await benchScrape(redis.url, plan.scrape);
    console.log('Redis load per request');
    const redisLoad = await benchRedisLoad(redis.url, plan.redisLoad);
    console.log('Hot path');
    const hotPath = await benchHotPath(redis.url, plan.hotPath);

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
    const results: BenchResults = {
      quick,
      startedAt,
      durationS: (Date.now() - startedAt.getTime()) / 1000,
      redisVersion: redis.version,
      hotPath,
      redisLoad,
      scrape,
      flush,
      chartFile: CHART,
    };
    writeFileSync(new URL('benchmarks.md', docs), renderReport(results));
    console.log(
      `Wrote ${new URL('benchmarks.md', docs).pathname} and its chart in ${results.durationS.toFixed(0)} s`,
    );
  } finally {
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
