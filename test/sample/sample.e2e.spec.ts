import { jest } from '@jest/globals';

import type { Redis } from 'ioredis';

import { startPrometheus } from '../harness/prometheus-server.js';
import { promtoolCheck } from '../harness/promtool.js';
import {
  requestOnce,
  startedSamples,
  startSample as startSampleProcess,
} from '../harness/sample-process.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { waitFor } from '../harness/writer-processes.js';

const WORKERS = 3;

/** The sample with WORKERS workers. */
const startSample = (env: Record<string, string>) =>
  startSampleProcess({ WORKERS: String(WORKERS), ...env });

/**
 * Retries a request caught by a dying worker (see REQUEST_TIMEOUT_MS), as a client would: the order
 * in an unanswered request was never read, so the retry counts it once.
 */
async function withRetries<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (tries === 4) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Sends one order. */
async function placeOrder(url: string): Promise<void> {
  await withRetries(async () => {
    const response = await requestOnce('POST', `${url}/orders/north`);
    if (response.status !== 201) throw new Error(`status ${response.status}`);
  });
}

function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// Real clusters, real requests, a real Prometheus: slower than the rest, above all on a loaded machine.
jest.setTimeout(120_000);

describe('the sample as real processes against a real Redis', () => {
  let client: Redis;
  const prefix = uniquePrefix('sample');

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
    await deletePrefix(client, prefix);
    await client.quit();
  });

  it.each(['redis', 'embedded'])(
    'answers every scrape with the exact count, through a SIGKILLed worker and its replacement (%s)',
    async (mode) => {
      const timing = { REDIS_FLUSH_INTERVAL_MS: '200', REDIS_LIVENESS_WINDOW_MS: '1000' };
      const sample = await startSample(
        mode === 'redis'
          ? { ...timing, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix }
          : timing,
      );
      expect(sample.output()).toContain(
        mode === 'redis'
          ? `Metrics storage: Redis at ${testRedisUrl()}, prefix "${prefix}"`
          : 'Metrics storage: the memory of the cluster primary (set REDIS_URL to use Redis)',
      );
      const orders = 'shop_orders_placed_total{shop="north"}';
      const scrape = async () =>
        (await withRetries(() => requestOnce('GET', `${sample.url}/metrics`))).body;
      try {
        const first = 30;
        for (let i = 0; i < first; i += 1) await placeOrder(sample.url);
        // Flushed (a few intervals; more on a loaded machine).
        await waitFor(async () => sampleValue(await scrape(), orders) === first, 10_000);
        const steady: (number | undefined)[] = [];
        const answeredBy = new Set<number>();
        for (let i = 0; i < 20; i += 1) {
          steady.push(sampleValue(await scrape(), orders));
          answeredBy.add(
            (
              JSON.parse(
                (await withRetries(() => requestOnce('GET', `${sample.url}/metrics/health`))).body,
              ) as {
                pid: number;
              }
            ).pid,
          );
        }

        const [victim] = sample.workerPids();
        process.kill(victim, 'SIGKILL');
        const seen: number[] = [];
        const second = 30;
        for (let i = 0; i < second; i += 1) {
          await placeOrder(sample.url);
          if (i % 5 === 0) seen.push(sampleValue(await scrape(), orders) ?? 0);
        }
        await waitFor(() => sample.workerPids().length === WORKERS + 1, 20_000);
        const replacedAt = Date.now();
        // Flushed, and the killed worker out of the liveness window.
        const upPidsOf = (text: string) =>
          [...text.matchAll(/^shop_worker_up\{pid="(\d+)"/gm)].map((m) => Number(m[1])).sort();
        await waitFor(async () => {
          const text = await scrape();
          const live = sample.workerPids().filter((pid) => pid !== victim);
          return (
            sampleValue(text, orders) === first + second &&
            JSON.stringify(upPidsOf(text)) === JSON.stringify(live.sort())
          );
        }, 15_000);
        // The primary ends a dead worker as it replaces it (markProcessDead): it leaves at once, not
        // after its heartbeat's TTL.
        const settledAfterReplaced = Date.now() - replacedAt;
        const final: (number | undefined)[] = [];
        for (let i = 0; i < 20; i += 1) final.push(sampleValue(await scrape(), orders));
        const text = await scrape();
        const live = sample.workerPids().filter((pid) => pid !== victim);

        expect(steady).toEqual(Array(20).fill(first));
        expect(answeredBy.size).toBe(WORKERS); // every worker answered some of the scrapes
        expect([...seen, ...final].every((v, i, all) => i === 0 || v! >= all[i - 1]!)).toBe(true);
        expect(final).toEqual(Array(20).fill(first + second));
        expect(sampleValue(text, 'sample_worker_restarts_total{reason="SIGKILL"}')).toBe(1);
        expect(upPidsOf(text)).toEqual(live.sort());
        expect(settledAfterReplaced).toBeLessThan(3000);
        expect(promtoolCheck(text)).toMatch(
          /^(|[^\n]*non-counter metrics should not have "_total" suffix[\s\S]*\(exit 3\))$/,
        );
      } finally {
        await sample.stop();
      }
    },
  );

  it('gives a real Prometheus no counter resets and the true rate while workers are killed', async () => {
    const ratePrefix = uniquePrefix('sample-rate');
    // The default flush interval (250 ms) and liveness window.
    const sample = await startSample({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: ratePrefix });
    const prometheus = await startPrometheus(`${sample.url}/metrics`, 1);
    try {
      // Prometheus applies new targets every 5 s: start counting once it scrapes.
      await waitFor(
        async () => (await prometheus.query('up{job="app"} == 1')).length === 1,
        20_000,
      );
      // 20 orders a second for 14 s, a worker SIGKILLed every 4 s.
      const perSecond = 20;
      const started = Date.now();
      let sent = 0;
      /** When each order was answered (ms). */
      const placedAt: number[] = [];
      let kills = 0;
      while (Date.now() - started < 14_000) {
        const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
        while (sent < due) {
          await placeOrder(sample.url);
          placedAt.push(Date.now());
          sent += 1;
        }
        if (Date.now() - started > (kills + 1) * 4000) {
          const pids = sample.workerPids();
          process.kill(pids[pids.length - WORKERS], 'SIGKILL');
          kills += 1;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setTimeout(resolve, 2500)); // last flush and scrape

      const series = 'shop_orders_placed_total{shop="north"}';
      const [resets] = await prometheus.query(`resets(${series}[1m])`);
      const [rate] = await prometheus.query(`rate(${series}[10s] offset 3s)`);
      const [latest] = await prometheus.query(series);

      expect(kills).toBe(3);
      expect(resets.value[1]).toBe('0');
      // A SIGKILLed worker takes what it counted since its last flush with it: 250 ms of its traffic
      // on a quiet machine (docs/benchmarks.md, section 8), more when the test machine is loaded and
      // flushes run late. Bounded here by a second of it, which a flush that stopped would pass.
      const lost = sent - Number(latest.value[1]);
      expect(lost).toBeGreaterThanOrEqual(0);
      expect(lost).toBeLessThanOrEqual(kills * Math.ceil(perSecond / WORKERS + 1));
      // The rate of the orders placed in the same 10 s: a request held up by a killed worker makes the
      // sending bursty, so the run's average rate is not the window's.
      const evaluatedAt = rate.value[0] * 1000;
      const inWindow = placedAt.filter(
        (at) => at > evaluatedAt - 13_000 && at <= evaluatedAt - 3_000,
      ).length;
      const sentRate = inWindow / 10;
      expect(Math.abs(Number(rate.value[1]) - sentRate) / sentRate).toBeLessThan(0.1);
    } finally {
      await prometheus.stop();
      await sample.stop();
      await deletePrefix(client, ratePrefix);
    }
  });

  // The goal, at most 250 ms of a worker's traffic per kill, is held by `npm run bench` (section 8) on a
  // quiet machine: on a loaded one the flushes run late, and the loss with them (6.5 orders a kill was
  // seen with the suite's two workers busy). Here: never more counted than sent, and at most a second
  // of a worker's traffic per kill, which a flush that stopped or slowed to the old 1 s would pass.
  it('loses on average at most a second of a worker’s traffic per SIGKILL, never counting more than sent', async () => {
    const churnPrefix = uniquePrefix('sample-churn');
    const sample = await startSample({ REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: churnPrefix });
    const orders = 'shop_orders_placed_total{shop="north"}';
    try {
      // 50 orders a second over 3 workers, a worker SIGKILLed every 1.2 s, 10 times.
      const perSecond = 50;
      const kills = 10;
      const started = Date.now();
      let sent = 0;
      const victims = new Set<number>();
      while (victims.size < kills) {
        const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
        while (sent < due) {
          await placeOrder(sample.url);
          sent += 1;
        }
        // The oldest worker still alive, once its replacement of the last kill is serving.
        const alive = sample.workerPids().filter((pid) => !victims.has(pid));
        if (Date.now() - started > (victims.size + 1) * 1200 && alive.length === WORKERS) {
          process.kill(alive[0], 'SIGKILL');
          victims.add(alive[0]);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await waitFor(() => sample.workerPids().length === WORKERS + kills, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the survivors' last flushes
      const counted = sampleValue(
        (await withRetries(() => requestOnce('GET', `${sample.url}/metrics`))).body,
        orders,
      )!;

      const lostPerKill = (sent - counted) / kills;
      const perWorkerInASecond = perSecond / WORKERS;
      console.log(
        `SIGKILL churn: ${sent} orders, ${counted} counted, ${lostPerKill.toFixed(2)} lost per kill on average (250 ms of a worker's traffic: ${(perWorkerInASecond / 4).toFixed(2)})`,
      );
      expect(sent - counted).toBeGreaterThanOrEqual(0);
      expect(lostPerKill).toBeLessThan(perWorkerInASecond);
    } finally {
      await sample.stop();
      await deletePrefix(client, churnPrefix);
    }
  });
});
