import 'reflect-metadata';

import cluster from 'node:cluster';

import { NestFactory } from '@nestjs/core';
import {
  getRedisStorageManager,
  MemoryMetricsStore,
  readRedisMetricsOptionsFromEnv,
  RedisStorageManager,
  serveMetricsStore,
} from 'nestjs-redis-metrics';
import { Counter } from 'prom-client';

import { AppModule } from './app.module.js';
import { RESTART_REASONS, restartReason } from './restart-reasons.js';
import { describeStorage, embedded } from './storage-mode.js';

const WORKERS = Number(process.env.WORKERS ?? 2);
const PORT = Number(process.env.PORT ?? 3000);

/** The primary's own metrics: in Redis through the functions outside DI, or in its own memory store. */
function primaryManager(): RedisStorageManager {
  if (!embedded) return getRedisStorageManager();
  const store = new MemoryMetricsStore();
  serveMetricsStore(store, cluster);
  return new RedisStorageManager({ ...readRedisMetricsOptionsFromEnv(), enabled: true, store });
}

/**
 * The primary forks the workers, which share one port, replaces any that dies and counts the restarts
 * by reason: the NestJS counterpart of gunicorn's master metrics. It stores them in Redis through the
 * functions for code outside dependency injection.
 */
async function runPrimary(): Promise<void> {
  const manager = primaryManager();
  const restarts = new Counter({
    name: 'sample_worker_restarts_total',
    help: 'Workers the primary replaced, by why the old one ended',
    labelNames: ['reason'],
    registers: [manager.registry],
  });
  for (const reason of RESTART_REASONS) restarts.inc({ reason }, 0);
  // Not awaited: the workers start whatever Redis does (a slow Redis used to hold them back).
  void manager.setup();
  console.log(`Primary ${process.pid}: starting ${WORKERS} workers on port ${PORT}`);
  console.log(`Metrics storage: ${describeStorage()}`);
  // A worker that exits with an error before it ever served (the port taken, a bad configuration)
  // would fail alike again: the primary stops rather than fork it over and over (as gunicorn does).
  const served = new Set<number>();
  cluster.on('listening', (worker) => served.add(worker.id));
  for (let i = 0; i < WORKERS; i += 1) cluster.fork();

  let stopping = false;
  /** Ends every worker (each flushes its last counts), then the primary's own store. */
  const stop = (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    // A worker that just died may still be listed until its IPC channel closes: no 'exit' comes again.
    const workers = Object.values(cluster.workers ?? {}).filter((worker) => !worker?.isDead());
    let left = workers.length;
    const done = () => void manager.teardown().then(() => process.exit(exitCode));
    if (left === 0) done();
    for (const worker of workers) {
      worker?.once('exit', () => (left -= 1) === 0 && done());
      worker?.process.kill('SIGTERM');
    }
  };
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (signal === null && code !== 0 && !served.has(worker.id)) {
      console.error(`Worker ${worker.process.pid} failed to start (exit ${code}); stopping`);
      return stop(1);
    }
    served.delete(worker.id);
    const reason = restartReason(code, signal);
    restarts.inc({ reason });
    // The dead worker's live* gauges leave at once instead of after its heartbeat expires; its counts
    // stay (as gunicorn's child_exit hook calls mark_process_dead). Without Redis, serveMetricsStore()
    // does it once the worker's channel closed: 'exit' can come before its last writes were read,
    // which an end would then refuse.
    if (!embedded)
      void manager.markProcessDead({ pid: worker.process.pid! }).catch(() => undefined);
    void manager.flush();
    console.log(
      `Worker ${worker.process.pid} ended (${signal ?? `exit ${code}`}); starting another`,
    );
    cluster.fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop(0));
}

async function runWorker(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  await app.listen(PORT);
  console.log(`Worker ${process.pid} serving http://localhost:${PORT}/metrics and /metrics/health`);
}

if (cluster.isPrimary && WORKERS > 0) void runPrimary();
else void runWorker();
