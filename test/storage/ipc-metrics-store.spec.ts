import { execFile, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';

import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import {
  createRedisClient,
  decodePacked,
  IpcMetricsStore,
  MemoryMetricsStore,
  ProcessIdentity,
  RedisMetricsStore,
  resolveRedisMetricsOptions,
  serveMetricsStore,
  type MetricsStore,
  type StoreSnapshot,
} from '../../src/index.js';
import { startRedisWithAuth } from '../harness/redis-auth-server.mjs';
import { makeTempDir, removeTempDir, startRedisProcess } from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { storeFlusher } from '../harness/test-flusher.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

interface WriterReport {
  flushes: { ok: boolean; sent: number; error?: string }[];
  counted: number;
}

/**
 * Runs an IPC fixture as a child whose store is `store`, served over its real IPC channel (`undefined`:
 * served by nobody, as by a primary that does not call serveMetricsStore).
 */
function runFixture<Report>(
  name: string,
  store: MetricsStore | undefined,
  env: Record<string, string> = {},
): Promise<Report> {
  const cluster = new EventEmitter();
  if (store) serveMetricsStore(store, cluster as Parameters<typeof serveMetricsStore>[1]);
  const child = fork(fixture(name), [], { env: { ...process.env, ...env }, stdio: 'inherit' });
  const worker = {
    isConnected: () => child.connected,
    send: child.send.bind(child),
  };
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`the writer exited (${code}) before it reported`)));
    child.on('message', (message: { done?: boolean } & Report) => {
      if (!message?.done) {
        cluster.emit('message', worker, message);
        return;
      }
      child.removeAllListeners('exit');
      child.disconnect();
      resolve(message);
    });
  });
}

/** What the IPC error fixture reports of a rejection. */
interface Rejection {
  name: string;
  message: string;
  connectionError: boolean;
  causes: { name: string; message: string }[];
  /** The error as `util.inspect` prints it, causes included. */
  inspected: string;
}

/** A series' total in a snapshot, unpacked. */
function totalOf(snapshot: StoreSnapshot, field: string): Record<string, number> | undefined {
  const index = snapshot.totals.indexOf(field);
  return index < 0 || index % 2 === 1
    ? undefined
    : Object.fromEntries(decodePacked(snapshot.totals[index + 1])!);
}

function withoutInspected({ inspected: _, ...rest }: Rejection): Omit<Rejection, 'inspected'> {
  return rest;
}

describe('IpcMetricsStore over a real IPC channel', () => {
  it('flushes of many batches at once go through, though the channel queues them', async () => {
    const store = new MemoryMetricsStore();

    // 5,000 series of about 90 bytes: 10 batches, 8 sent before the first reply, far more than the
    // channel takes before `send()` says its queue is long.
    const report = await runFixture<WriterReport>('ipc-writer.mjs', store, {
      SERIES: '5000',
      ROUNDS: '3',
    });

    expect(report.flushes).toEqual([
      { ok: true, sent: 5000 },
      { ok: true, sent: 5000 },
      { ok: true, sent: 5000 },
    ]);
    const snapshot = await store.read();
    let total = 0;
    let fields = 0;
    for (let i = 0; i < snapshot.totals.length; i += 2) {
      if (!snapshot.totals[i].startsWith('[')) continue;
      fields += 1;
      total += Number(snapshot.totals[i + 1].split(' ')[1]);
    }
    expect(fields).toBe(5000);
    expect(total).toBe(report.counted);
  }, 60_000);

  it('ends the processes of a worker killed with SIGKILL in the store, its counts kept', async () => {
    const store = new MemoryMetricsStore();
    const cluster = new EventEmitter();
    serveMetricsStore(store, cluster as Parameters<typeof serveMetricsStore>[1]);
    const child = fork(fixture('ipc-writer.mjs'), [], {
      env: { ...process.env, SERIES: '3', ROUNDS: '2' },
      stdio: 'inherit',
    });
    const worker = { isConnected: () => child.connected, send: child.send.bind(child) };
    child.on('message', (message: { done?: boolean }) => {
      if (message?.done) child.kill('SIGKILL');
      else cluster.emit('message', worker, message);
    });
    // node:cluster says 'disconnect' once the worker's channel closed.
    await new Promise<void>((resolve) =>
      child.on('disconnect', () => {
        cluster.emit('disconnect', worker);
        resolve();
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));

    const snapshot = await store.read();
    expect(snapshot.processes).toEqual([]);
    let total = 0;
    for (let i = 0; i < snapshot.totals.length; i += 2) {
      if (snapshot.totals[i].startsWith('[')) total += Number(snapshot.totals[i + 1].split(' ')[1]);
    }
    expect(total).toBe(6);
  });

  it('two stores in one worker each get the answer to their own call', async () => {
    const report = await runFixture<{ read: string[]; processIndex: string[] }>(
      'ipc-two-stores.mjs',
      new MemoryMetricsStore(),
    );

    expect(report.read).toEqual([
      'gauges',
      'info',
      'metadata',
      'now',
      'processes',
      'totals',
      'wrongType',
    ]);
    expect(report.processIndex).toEqual(['now', 'processes']);
  });

  it("rejects a worker's call as the primary's store rejected it, the module's error classes and the causes kept, and names an operation the primary does not know", async () => {
    // The primary's store is Redis, at an address where nothing listens.
    const port = await freePort();
    const client = createRedisClient(
      resolveRedisMetricsOptions({ enabled: true, url: `redis://127.0.0.1:${port}` }),
    );
    client.on('error', () => undefined);
    await client.connect().catch(() => undefined);

    try {
      const report = await runFixture<Record<'write' | 'unknown' | 'malformed', Rejection>>(
        'ipc-errors.mjs',
        new RedisMetricsStore(client, 'ipc-errors'),
      );

      // As the Redis store rejects in the primary: a RedisConnectionError that names the cause, and
      // the error of ioredis it explains as its cause.
      expect(withoutInspected(report.write)).toEqual({
        name: 'RedisConnectionError',
        message: `connection refused at 127.0.0.1:${port} (is Redis running there? check REDIS_HOST / REDIS_PORT)`,
        connectionError: true,
        causes: [
          {
            name: 'Error',
            message: "Stream isn't writeable and enableOfflineQueue options is false",
          },
        ],
      });
      expect(withoutInspected(report.unknown)).toEqual({
        name: 'Error',
        message:
          'the cluster primary does not know the operation "compact" (are the primary and its workers running the same version of nestjs-redis-metrics?)',
        connectionError: false,
        causes: [],
      });
      // Any other error keeps its name.
      expect(withoutInspected(report.malformed)).toEqual({
        name: 'TypeError',
        message: "Cannot read properties of undefined (reading 'map')",
        connectionError: false,
        causes: [],
      });
    } finally {
      client.disconnect();
    }
  });

  it("keeps the cause of a primary's store refused by Redis, and none of its secrets, on the worker's error", async () => {
    const server = await startRedisWithAuth();
    const secret = `wrong-${server.password}`;
    const client = createRedisClient(
      resolveRedisMetricsOptions({
        enabled: true,
        url: `redis://default:${secret}@127.0.0.1:${server.port}`,
      }),
    );
    client.on('error', () => undefined);
    await client.connect().catch(() => undefined);

    try {
      const { write } = await runFixture<{ write: Rejection }>(
        'ipc-errors.mjs',
        new RedisMetricsStore(client, 'ipc-refused'),
      );

      expect(withoutInspected(write)).toEqual({
        name: 'RedisAuthenticationError',
        message: `WRONGPASS: wrong password or user "default" at 127.0.0.1:${server.port} (check REDIS_PASSWORD / the URL's user)`,
        connectionError: false,
        causes: [
          {
            name: 'Error',
            message: "Stream isn't writeable and enableOfflineQueue options is false",
          },
        ],
      });
      // Only names and messages cross: no failed command's arguments, where a password may be.
      expect(write.inspected).toContain(
        "[cause]: Error: Stream isn't writeable and enableOfflineQueue options is false",
      );
      expect(write.inspected).not.toContain(secret);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });

  it("rejects a worker's call with the error of the primary's Redis store when that Redis stalls, not with a guess at the primary", async () => {
    // A Redis of this test's own, paused: the module's client (5 s command timeout) waits for it.
    const dir = await makeTempDir('ipc-paused');
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    });
    const client = createRedisClient(
      resolveRedisMetricsOptions({ enabled: true, url: `redis://127.0.0.1:${server.port}` }),
    );
    client.on('error', () => undefined);
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      await client.connect();
      await admin.call('CLIENT', 'PAUSE', '10000', 'ALL');

      const { write } = await runFixture<{ write: Rejection }>(
        'ipc-errors.mjs',
        new RedisMetricsStore(client, 'ipc-paused'),
      );

      // As the Redis store rejects in the primary, after its 5 s (a worker that waited 5 s gave up first).
      expect(withoutInspected(write)).toEqual({
        name: 'RedisTimeoutError',
        message: `no answer from 127.0.0.1:${server.port} within the command timeout (is Redis overloaded or paused?)`,
        connectionError: false,
        causes: [{ name: 'Error', message: 'Command timed out' }],
      });
    } finally {
      admin.disconnect();
      client.disconnect();
      await server.kill();
      await removeTempDir(dir);
    }
  }, 30_000);

  /**
   * A primary of this version, and primaries of earlier versions: one that refuses an operation it does
   * not know, one that answers it with nothing, and one whose store lacks the operation.
   */
  function primariesOfEachVersion() {
    return (['current', 'refuses', 'silent', 'store-without'] as const).map((kind) => ({
      kind,
      child: fork(fixture(kind === 'current' ? 'ipc-primary.mjs' : 'ipc-older-primary.mjs'), [], {
        env: { ...process.env, PRIMARY: kind },
        stdio: 'inherit',
      }),
    }));
  }

  it("answers which write of a process the primary's store holds, and cannot tell (undefined, never null) with a primary of an earlier version or a store without it", async () => {
    const writer = ProcessIdentity.create({ hostname: 'h', pid: 1 });
    const other = ProcessIdentity.create({ hostname: 'h', pid: 2 });
    const primaries = primariesOfEachVersion();
    try {
      const answers: Record<string, unknown[]> = {};
      for (const { kind, child } of primaries) {
        const store = new IpcMetricsStore(child as unknown as NodeJS.Process);
        const before = await store.heldWrite(writer.id);
        await store.write(writer, { expectedSeq: 0, seq: 4, counters: [['["a",{}]', 'v 1']] });
        answers[kind] = [before, await store.heldWrite(writer.id), await store.heldWrite(other.id)];
      }

      expect(answers).toEqual({
        current: [null, 4, null],
        refuses: [undefined, undefined, undefined],
        silent: [undefined, undefined, undefined],
        'store-without': [undefined, undefined, undefined],
      });
    } finally {
      for (const { child } of primaries) child.kill();
    }
  });

  it('rejects a deletion that a primary of an earlier version, or one whose store has no deleteSeries, cannot make, and never resolves without a count', async () => {
    const primaries = primariesOfEachVersion();
    try {
      const outcomes: Record<string, unknown> = {};
      for (const { kind, child } of primaries) {
        const store = new IpcMetricsStore(child as unknown as NodeJS.Process);
        const writer = ProcessIdentity.create({ hostname: 'h', pid: 1 });
        await store.write(writer, { expectedSeq: 0, seq: 1, counters: [['["a",{}]', 'v 1']] });
        outcomes[kind] = await store.deleteSeries('a').then(
          (deleted) => ({ deleted }),
          (error: Error) => error.message,
        );
      }

      expect(outcomes).toEqual({
        current: { deleted: 1 },
        refuses:
          'the cluster primary does not know the operation "deleteSeries" (are the primary and its workers running the same version of nestjs-redis-metrics?)',
        silent:
          'the cluster primary answered a deleteSeries without a count of deleted series: it runs an earlier version of nestjs-redis-metrics than its workers, which cannot delete series',
        'store-without': "the cluster primary's store (this process's memory) cannot delete series",
      });
    } finally {
      for (const { child } of primaries) child.kill();
    }
  });

  it('goes on from what an earlier flusher of the registry delivered with a primary of an earlier version, the flusher never stopped by the unknown operation', async () => {
    const primary = fork(fixture('ipc-older-primary.mjs'), [], {
      env: { ...process.env, PRIMARY: 'refuses' },
      stdio: 'inherit',
    });
    try {
      const store = new IpcMetricsStore(primary as unknown as NodeJS.Process);
      const registry = new Registry();
      const counter = new Counter({ name: 'older_total', help: 'Older', registers: [registry] });
      const flusher = () => storeFlusher(store, registry);
      const first = flusher();
      counter.inc();
      expect((await first.flush()).ok).toBe(true);
      const delivered = first.delivered()!;
      await first.end();
      const second = flusher();
      second.startFrom(delivered);
      counter.inc();

      expect(await second.flush()).toMatchObject({ ok: true, repaired: undefined });
      expect(totalOf(await store.read(), '["older_total",{}]')).toEqual({ v: 2 });
    } finally {
      primary.kill();
    }
  });

  it('fails a call at once, naming the closed channel, when the channel closes before the primary answers', async () => {
    // A real node:cluster primary that applies the write, never answers it, and disconnects the worker.
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        [fixture('ipc-disconnected-cluster.mjs')],
        { timeout: 20_000 },
        (error, out) => (error ? reject(error) : resolve(out)),
      ),
    );
    const [worker, primary] = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

    const { ms, ...rejection } = worker.worker as { ms: number };
    expect(rejection).toEqual({
      name: 'Error',
      message:
        'the IPC channel to the cluster primary closed before the primary answered a write (it may have been applied or not)',
    });
    // Not the 6 s a primary that does not answer is given.
    expect(ms).toBeLessThan(2000);
    expect(primary).toEqual({ primaryHolds: 'v 3' });
  }, 30_000);

  it('says a call cut off by the closed channel may have been applied only of a call that changes the store, and stops listening', async () => {
    // A worker's channel that takes messages and answers none, then closes.
    const channel = Object.assign(new EventEmitter(), { send: () => true });
    const store = new IpcMetricsStore(channel as unknown as NodeJS.Process);
    const outcome = (call: Promise<unknown>) =>
      call.then(
        () => 'answered',
        (error: Error) => error.message,
      );
    const calls = Promise.all([
      outcome(store.write(ProcessIdentity.create(), { expectedSeq: 0, seq: 1 })),
      outcome(store.end('gone')),
      outcome(store.read()),
      outcome(store.processIndex()),
    ]);

    channel.emit('disconnect');

    const closed = 'the IPC channel to the cluster primary closed before the primary answered a';
    expect(await calls).toEqual([
      `${closed} write (it may have been applied or not)`,
      `${closed} end (it may have been applied or not)`,
      `${closed} read`,
      `${closed} processIndex`,
    ]);
    expect([channel.listenerCount('message'), channel.listenerCount('disconnect')]).toEqual([0, 0]);
  });

  it("refuses to be made in a worker of PM2's cluster mode, whose primary is PM2's daemon, and works in a worker of an app's own primary that PM2 runs in fork mode", async () => {
    const run = (role: 'pm2' | 'fork-mode') =>
      new Promise<unknown>((resolve, reject) =>
        execFile(
          process.execPath,
          [fixture('ipc-pm2-worker.mjs'), role],
          { timeout: 20_000 },
          (error, out) => (error ? reject(error) : resolve(JSON.parse(out.trim()))),
        ),
      );
    const [pm2, forkMode] = await Promise.all([run('pm2'), run('fork-mode')]);

    // At once, not after the 6 s of a read that PM2's daemon never answers.
    expect(pm2).toEqual({
      made: {
        name: 'Error',
        message:
          "IpcMetricsStore cannot work in a PM2 cluster-mode worker: its cluster primary is PM2's daemon, which serves no store and answers nothing (every flush and scrape would wait 6 s and fail). Store the metrics in Redis (url or client), which every PM2 worker shares",
      },
    });
    expect(forkMode).toEqual({ read: { totals: [] } });
  }, 30_000);

  it('says where to make it, and what the primary serves, when made in a process without an IPC channel', () => {
    // A cluster primary's `process` has no `send`.
    expect(() => new IpcMetricsStore({} as NodeJS.Process)).toThrow(
      new Error(
        'IpcMetricsStore needs an IPC channel to a cluster primary, and this process has none (it is the primary, or was not forked): make it in the workers only, in a forRootAsync() factory rather than in forRoot() (the module file runs in the primary too), and serve a MemoryMetricsStore in the primary with serveMetricsStore(store, cluster)',
      ),
    );
  });

  it('says what to check when the primary does not answer', async () => {
    const report = await runFixture<{ read: unknown }>('ipc-unserved.mjs', undefined);

    expect(report.read).toEqual({
      name: 'Error',
      message:
        'the cluster primary did not answer a read within 6000 ms (does it serve the store with serveMetricsStore(store, cluster)? is it blocked?)',
    });
  }, 20_000);

  it("logs no wait for the primary's answer when the worker's own event loop was blocked while the flush waited", async () => {
    // The primary answers at once; the worker blocks for 4 s right after its flush began, so the
    // timer that watches the wait (2,250 ms) fires 1,750 ms late, before the answer is read.
    const report = await runFixture<{ warnings: string[]; health?: string; ok: boolean }>(
      'ipc-waiting.mjs',
      new MemoryMetricsStore(),
      { BLOCK_MS: '4000', HEALTH_AFTER_MS: '500' },
    );

    expect(report).toEqual({ done: true, warnings: [], ok: true });
  }, 20_000);

  it('names the cluster primary, not Redis, in the log line and the health of a flush that waits long for its answer', async () => {
    const memory = new MemoryMetricsStore();
    let writes = 0;
    // The second write is answered after 3 s, as by a primary blocked that long.
    const store: MetricsStore = {
      description: memory.description,
      write: async (identity, batch) => {
        writes += 1;
        if (writes === 2) await new Promise((resolve) => setTimeout(resolve, 3000));
        return memory.write(identity, batch);
      },
      rebase: (identity, request) => memory.rebase(identity, request),
      end: (processId, staleAfterMs) => memory.end(processId, staleAfterMs),
      read: (options) => memory.read(options),
      processIndex: () => memory.processIndex(),
    };

    const report = await runFixture<{ warnings: string[]; health: string; ok: boolean }>(
      'ipc-waiting.mjs',
      store,
      { HEALTH_AFTER_MS: '2600' },
    );

    const silence =
      'the cluster primary blocked or stopped, or it does not serve the store with serveMetricsStore(store, cluster)';
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([
      `Flushing metrics to the cluster primary, over IPC has waited over 2250 ms for an answer; counting goes on in memory, and one flush at a time waits until it comes: no answer yet (${silence})`,
    ]);
    expect(report.health).toMatch(
      new RegExp(
        `^no write acknowledged for \\d+ ms: a flush has waited \\d+ ms for an answer \\(${silence.replace(/[().?]/g, '\\$&')}\\)$`,
      ),
    );
  }, 20_000);
});
