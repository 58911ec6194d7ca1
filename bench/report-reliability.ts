// Sections of docs/benchmarks.md about what the module does beyond the hot path and the scrape: the
// routes during a Redis stall, fresh scrapes, summary quantiles, and what a SIGKILL costs at the
// defaults.
import type { ChurnResult } from './churn.js';
import type { FlushCost } from './flush.js';
import { fixed, table } from './lib/stats.js';
import { quantilesSection, type QuantilesResult } from './quantiles.js';
import type { StalenessResult } from './staleness.js';
import type { StallResult } from './stall.js';

const ms = (value: number) => fixed(value, value < 10 ? 2 : 1);
const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([status, count]) => `${count} × ${status}`)
    .join(', ');

export function stallSection(stall: StallResult): string {
  const { health, metrics } = stall;
  return [
    '## 5. The routes while Redis is stalled',
    '',
    `One NestJS app with the module (default options, \`scrapeTimeoutMs\` ${stall.scrapeTimeoutMs}) and a private redis-server that runs \`DEBUG SLEEP ${stall.stallSeconds}\`: during the stall \`/metrics/health\` is asked every 20 ms and \`/metrics\` back to back. Health answers from what the background flush knows and never waits on Redis; a scrape gives up at its timeout with 503.`,
    '',
    table(
      ['route', 'answers', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'statuses'],
      [
        [
          '`/metrics/health`',
          health.samples,
          ms(health.p50Ms),
          ms(health.p99Ms),
          ms(health.maxMs),
          statuses(health.statuses),
        ],
        [
          '`/metrics`',
          metrics.samples,
          ms(metrics.p50Ms),
          ms(metrics.p99Ms),
          ms(metrics.maxMs),
          statuses(metrics.statuses),
        ],
      ],
    ),
    '',
    `- \`/metrics/health\` p99 during a ${stall.stallSeconds} s stall, at most 100 ms: ${ms(health.p99Ms)} ms; ${health.p99Ms <= 100 ? 'met' : 'missed'}.`,
    `- \`/metrics\` never runs past its timeout (${stall.scrapeTimeoutMs} ms, plus the time to answer): longest ${ms(metrics.maxMs)} ms; ${metrics.maxMs <= stall.scrapeTimeoutMs + 250 ? 'met' : 'missed'}.`,
  ].join('\n');
}

export function stalenessSection(results: StalenessResult[]): string {
  const off = results.find((r) => r.freshScrapeWaitMs === 0);
  const on = results.find((r) => r.freshScrapeWaitMs > 0);
  const rows = results.map((r) => [
    r.freshScrapeWaitMs === 0
      ? 'off (`freshScrapeWaitMs: 0`)'
      : `on (default, ${r.freshScrapeWaitMs} ms at most)`,
    ms(r.stalenessMedianMs),
    ms(r.stalenessP99Ms),
    ms(r.scrapeMedianMs),
    fixed(r.commandsPerScrape, 1),
  ]);
  const first = results[0];
  return [
    '## 6. Fresh scrapes',
    '',
    `${first.processes} NestJS apps of one process sharing one Redis, flushing every ${first.flushIntervalMs} ms (the default). Staleness: a count is made in the first app at a random point of its flush cycle, and the second app is scraped until a scrape shows it (time from the count to that scrape's answer). Cost: a scrape when nothing new is to be flushed, and the Redis commands per scrape (its own read, the flush request and the flushes it asks for; background flushes of the same time included).`,
    '',
    table(
      [
        'fresh scrapes',
        'staleness median (ms)',
        'staleness p99 (ms)',
        'scrape median (ms)',
        'Redis commands per scrape',
      ],
      rows,
    ),
    '',
    off && on
      ? `With fresh scrapes a count is in the very next scrape (median ${ms(on.stalenessMedianMs)} ms from count to answer, against ${ms(off.stalenessMedianMs)} ms without); a scrape costs ${ms(on.scrapeMedianMs - off.scrapeMedianMs)} ms more here, the round trip of asking every process to flush and hearing back.`
      : '',
  ].join('\n');
}

export function quantileSection(result: QuantilesResult): string {
  return quantilesSection(result).replace(/^## /, '## 7. ').trimEnd();
}

export function churnSection(churn: ChurnResult, flush: FlushCost[] | undefined): string {
  const unchanged10k = flush?.find((row) => row.series === 10_000)?.unchanged.cpuMs;
  const perSecond = 1000 / churn.flushIntervalMs;
  return [
    '## 8. What a SIGKILL costs, at the defaults',
    '',
    `The sample (\`npm run build:sample\`) as a node:cluster of ${churn.workers} workers storing in Redis with the default options (flush every ${churn.flushIntervalMs} ms, liveness window 5 s), ${churn.perSecond} orders a second, and a worker SIGKILLed every 1.2 s, ${churn.kills} times: a killed worker takes what it counted since its last flush with it. The test suite runs the same churn (10 kills) and holds a looser bound (a second of a worker's traffic per kill): on a machine loaded by the suite's other tests, flushes run late.`,
    '',
    table(
      ['orders sent', 'counted', 'lost per kill', '250 ms of one worker’s traffic'],
      [
        [
          churn.sent,
          churn.counted,
          fixed(churn.lostPerKill, 2),
          fixed(churn.quarterSecondOfAWorker, 2),
        ],
      ],
    ),
    '',
    `- Lost per kill, at most what 250 ms of a worker's traffic holds: ${fixed(churn.lostPerKill, 2)} against ${fixed(churn.quarterSecondOfAWorker, 2)}; ${churn.lostPerKill <= churn.quarterSecondOfAWorker ? 'met' : 'missed'} (at the former default of 1 s it was 6.1 to 6.9).`,
    unchanged10k === undefined
      ? '- The flush figures of section 4 are per flush; at the default interval a process flushes four times a second.'
      : `- Restated for the default interval: a process with 10,000 unchanged series spends ${ms(unchanged10k)} ms of CPU per flush (section 4), ${ms(unchanged10k * perSecond)} ms a second at ${perSecond} flushes a second; its \`collect\` callbacks (default metrics) run once a second and at every fresh scrape. A process is live for the \`live*\` modes for 5 s after its last heartbeat (five intervals, at least 5 s).`,
  ].join('\n');
}
