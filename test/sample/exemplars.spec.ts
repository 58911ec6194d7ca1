import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';

import type { Redis } from 'ioredis';

import { startPrometheus, type PrometheusServer } from '../harness/prometheus-server.js';
import { requestOnce, startedSamples, startSample } from '../harness/sample-process.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { settledReading, waitFor } from '../harness/writer-processes.js';

const WORKERS = 3;

/** A GET answered with 200, on a connection of its own (the next worker in turn). */
async function get(url: string, headers: Record<string, string>): Promise<string> {
  const { status, body } = await requestOnce('GET', url, headers);
  if (status !== 200) throw new Error(`${status} ${body}`);
  return body;
}

/** The trace ids Prometheus holds as exemplars of the sample's lookup histogram. */
async function storedTraceIds(prometheus: PrometheusServer, since: number): Promise<Set<string>> {
  const series = await prometheus.queryExemplars(
    'shop_order_lookup_seconds_bucket',
    since,
    Date.now() / 1000 + 1,
  );
  return new Set(series.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id)));
}

// A real cluster and a real Prometheus: slower than the rest, above all on a loaded machine.
jest.setTimeout(120_000);

describe('exemplars of the sample, scraped by a real Prometheus', () => {
  let client: Redis;
  const prefix = uniquePrefix('sample-exemplars');

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
    await deletePrefix(client, prefix);
    await client.quit();
  });

  it.each(['redis', 'embedded'])(
    'stores the trace ids that different workers recorded, from OpenMetrics scrapes of any worker (%s)',
    async (mode) => {
      const sample = await startSample(
        mode === 'redis'
          ? { WORKERS: String(WORKERS), REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix }
          : { WORKERS: String(WORKERS) },
      );
      const prometheus = await startPrometheus(`${sample.url}/metrics`, 1, {
        enableFeatures: ['exemplar-storage'],
      });
      const since = Date.now() / 1000 - 1;
      try {
        // Each lookup carries a trace of its own; the next is sent once Prometheus has stored this
        // one (a bucket serves only its latest exemplar, so each must be scraped before the next).
        const byWorker = new Map<number, string[]>();
        for (let i = 0; byWorker.size < WORKERS && i < 4 * WORKERS; i += 1) {
          const traceId = randomBytes(16).toString('hex');
          const answer = JSON.parse(
            await get(`${sample.url}/orders/${i}`, {
              traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
            }),
          ) as { worker: number; traceId: string };
          expect(answer.traceId).toBe(traceId);
          await waitFor(async () => (await storedTraceIds(prometheus, since)).has(traceId), 15_000);
          byWorker.set(answer.worker, [...(byWorker.get(answer.worker) ?? []), traceId]);
        }
        const stored = await storedTraceIds(prometheus, since);
        const healthy = [{ health: 'up', lastError: '' }];
        const targets = await settledReading(
          async () =>
            (await prometheus.targets()).map(({ health, lastError }) => ({ health, lastError })),
          healthy,
        );

        expect(targets).toEqual(healthy);
        expect([...byWorker.keys()].sort()).toEqual([...sample.workerPids()].sort());
        for (const traces of byWorker.values()) {
          for (const traceId of traces) expect(stored.has(traceId)).toBe(true);
        }
      } finally {
        await prometheus.stop();
        await sample.stop();
      }
    },
  );
});
