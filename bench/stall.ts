// How the health and metrics routes answer while Redis is stalled: a NestJS app of this process with the
// module, a private redis-server of its own (DEBUG allowed), and `DEBUG SLEEP 5` while the routes are
// sampled.
import 'reflect-metadata';

import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { RedisMetricsModule, RedisStorageManager } from 'nestjs-redis-metrics';
import { Registry } from 'prom-client';

import { median, percentile } from './lib/stats.js';

/** Latencies of one route sampled during the stall. */
export interface RouteUnderStall {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How many answers had each status. */
  statuses: Record<string, number>;
}

export interface StallResult {
  stallSeconds: number;
  health: RouteUnderStall;
  metrics: RouteUnderStall;
  scrapeTimeoutMs: number;
}

interface Harness {
  makeTempDir(label: string): Promise<string>;
  removeTempDir(dir: string): Promise<void>;
  startRedisProcess(spec: {
    dir: string;
    port: number;
    args: (port: number) => string[];
  }): Promise<{ port: number; kill(): Promise<void> }>;
}

async function sample(url: string, until: number, everyMs: number): Promise<RouteUnderStall> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  while (Date.now() < until) {
    const started = performance.now();
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    times.push(performance.now() - started);
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return {
    samples: times.length,
    p50Ms: median(times),
    p99Ms: percentile(times, 0.99),
    maxMs: Math.max(...times),
    statuses,
  };
}

/** Samples `/metrics/health` every 20 ms and `/metrics` back to back during `DEBUG SLEEP`. */
export async function benchStall({ stallSeconds }: { stallSeconds: number }): Promise<StallResult> {
  const harness = (await import(
    new URL('../../test/harness/redis-processes.mjs', import.meta.url).href
  )) as Harness;
  const ports = (await import(
    new URL('../../test/harness/redis-server.mjs', import.meta.url).href
  )) as { freePort(): Promise<number> };
  const dir = await harness.makeTempDir('bench-stall');
  const server = await harness.startRedisProcess({
    dir,
    port: await ports.freePort(),
    args: (port) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--enable-debug-command',
      'local',
    ],
  });
  const scrapeTimeoutMs = 1000;
  @Module({
    imports: [
      RedisMetricsModule.forRoot({
        url: `redis://127.0.0.1:${server.port}`,
        keyPrefix: 'bench-stall',
        registry: new Registry(),
        scrapeTimeoutMs,
      }),
    ],
  })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const admin = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    await app.get(RedisStorageManager).setup();
    const base = await app.getUrl();
    const stall = admin.call('DEBUG', 'SLEEP', String(stallSeconds));
    const until = Date.now() + stallSeconds * 1000 - 100;
    const [health, metrics] = await Promise.all([
      sample(`${base}/metrics/health`, until, 20),
      sample(`${base}/metrics`, until, 0),
    ]);
    await stall;
    console.log(
      `  stall ${stallSeconds} s: health p99 ${health.p99Ms.toFixed(1)} ms (${health.samples} samples), metrics max ${metrics.maxMs.toFixed(0)} ms`,
    );
    return { stallSeconds, health, metrics, scrapeTimeoutMs };
  } finally {
    admin.disconnect();
    await app.close();
    await server.kill();
    await harness.removeTempDir(dir);
  }
}
