import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { Redis } from 'ioredis';

import { freePort } from '../harness/redis-server.mjs';
import { startedSamples, startSample, type SampleProcess } from '../harness/sample-process.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { waitFor } from '../harness/writer-processes.js';

const README = new URL('../../README.md', import.meta.url).pathname;
const PASSWORD = 'sample-redis-pa55';
const TIMING = { REDIS_FLUSH_INTERVAL_MS: '200', REDIS_LIVENESS_WINDOW_MS: '1000' };

// Real clusters on a loaded machine.
jest.setTimeout(60_000);

/** The sample's `shop_orders_placed_total` series, from its merged /metrics. */
async function orderSeries(sample: SampleProcess): Promise<string[]> {
  const text = await (await fetch(`${sample.url}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('shop_orders_placed_total{'));
}

/** Places orders and waits until the merged /metrics shows them. */
async function placeAndSee(sample: SampleProcess, count: number): Promise<string[]> {
  for (let i = 0; i < count; i += 1) {
    expect((await fetch(`${sample.url}/orders/north`, { method: 'POST' })).status).toBe(201);
  }
  const expected = `shop_orders_placed_total{shop="north"} ${count}`;
  await waitFor(async () => (await orderSeries(sample)).includes(expected), 10_000);
  return orderSeries(sample);
}

const EVERY_SHOP_AFTER_3_NORTH = [
  'shop_orders_placed_total{shop="east"} 0',
  'shop_orders_placed_total{shop="north"} 3',
  'shop_orders_placed_total{shop="south"} 0',
  'shop_orders_placed_total{shop="west"} 0',
];

/** A private redis-server that wants a password, for the REDIS_HOST/REDIS_PORT/REDIS_PASSWORD set-up. */
async function startPasswordRedis(): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--requirepass', PASSWORD],
    ],
    { stdio: 'ignore' },
  );
  const probe = new Redis({ port, host: '127.0.0.1', password: PASSWORD, lazyConnect: true });
  probe.on('error', () => undefined);
  await waitFor(async () => (await probe.ping().catch(() => '')) === 'PONG', 10_000);
  probe.disconnect();
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('the sample with every documented configuration', () => {
  let client: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
  });

  function newPrefix(label: string): string {
    const prefix = uniquePrefix(`sample-config-${label}`);
    prefixes.push(prefix);
    return prefix;
  }

  it.each(['REDIS_URL', 'PROMETHEUS_REDIS_URL'])(
    'starts and counts with %s alone',
    async (variable) => {
      const prefix = newPrefix(variable);
      const sample = await startSample({
        ...TIMING,
        WORKERS: '1',
        [variable]: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
      });
      try {
        expect(sample.output()).toContain(
          `Metrics storage: Redis at ${testRedisUrl()}, prefix "${prefix}"`,
        );
        expect(sample.output()).toContain(`Redis metrics storage on: the URL of ${variable}.`);
        expect(await placeAndSee(sample, 3)).toEqual(EVERY_SHOP_AFTER_3_NORTH);
        expect(await client.hget(`{${prefix}}:metadata`, 'shop_orders_placed_total')).not.toBe(
          null,
        );
      } finally {
        await sample.stop();
      }
    },
  );

  it('starts and counts with REDIS_HOST, REDIS_PORT and REDIS_PASSWORD, never printing the password', async () => {
    const redis = await startPasswordRedis();
    const sample = await startSample({
      ...TIMING,
      WORKERS: '1',
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redis.port),
      REDIS_PASSWORD: PASSWORD,
      REDIS_KEY_PREFIX: 'sample-password',
    });
    try {
      expect(sample.output()).toContain(
        `Metrics storage: Redis at 127.0.0.1:${redis.port}/0, prefix "sample-password"`,
      );
      expect(await placeAndSee(sample, 3)).toEqual(EVERY_SHOP_AFTER_3_NORTH);
    } finally {
      await sample.stop();
      await redis.stop();
    }
    expect(sample.output()).not.toContain(PASSWORD);
  });

  it('starts and counts with the password in the query of REDIS_URL, never printing it', async () => {
    const redis = await startPasswordRedis();
    const url = `redis://127.0.0.1:${redis.port}/2?password=${PASSWORD}`;
    const sample = await startSample({
      ...TIMING,
      WORKERS: '1',
      REDIS_URL: url,
      REDIS_KEY_PREFIX: 'sample-query-password',
    });
    try {
      expect(sample.output()).toContain(
        `Metrics storage: Redis at redis://127.0.0.1:${redis.port}/2?password=***, prefix "sample-query-password"`,
      );
      expect(await placeAndSee(sample, 3)).toEqual(EVERY_SHOP_AFTER_3_NORTH);
    } finally {
      await sample.stop();
      await redis.stop();
    }
    expect(sample.output()).not.toContain(PASSWORD);
  });

  it('prints on start-up what the README shows, with label sets known at start at 0, and rejects unknown shops', async () => {
    // `npm start` as it is: no Redis variable, the default number of workers.
    const sample = await startSample({ ...TIMING });
    try {
      // The README's excerpt, numbers (pids, the port) aside, in order among the lines that are not
      // Nest's own log lines.
      const readme = readFileSync(README, 'utf8');
      const excerpt = /```text\n(Primary [\s\S]*?)```/.exec(readme)?.[1];
      const normalise = (text: string) =>
        text
          .split('\n')
          .filter((line) => line !== '' && !line.startsWith('[Nest]'))
          .map((line) => line.replace(/\d+/g, 'N'));
      expect(excerpt).toBeDefined();
      await waitFor(() => sample.output().includes('Worker') && sample.workerPids().length === 2);
      const printed = normalise(sample.output());
      expect(printed.slice(0, normalise(excerpt!).length)).toEqual(normalise(excerpt!));

      const first = await (await fetch(`${sample.url}/metrics`)).text();
      const restarts = first
        .split('\n')
        .filter((line) => line.startsWith('sample_worker_restarts_total{'));
      expect(restarts).toEqual([
        'sample_worker_restarts_total{reason="SIGABRT"} 0',
        'sample_worker_restarts_total{reason="SIGINT"} 0',
        'sample_worker_restarts_total{reason="SIGKILL"} 0',
        'sample_worker_restarts_total{reason="SIGSEGV"} 0',
        'sample_worker_restarts_total{reason="SIGTERM"} 0',
        'sample_worker_restarts_total{reason="exit_0"} 0',
        'sample_worker_restarts_total{reason="exit_error"} 0',
        'sample_worker_restarts_total{reason="other"} 0',
      ]);

      for (let i = 0; i < 20; i += 1) {
        const response = await fetch(`${sample.url}/orders/scan-${i}`, { method: 'POST' });
        expect(response.status).toBe(404);
      }
      expect(await placeAndSee(sample, 3)).toEqual(EVERY_SHOP_AFTER_3_NORTH);
    } finally {
      await sample.stop();
    }
  });
});
