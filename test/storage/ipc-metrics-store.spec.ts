import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';

import { MemoryMetricsStore, serveMetricsStore } from '../../src/index.js';

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;

interface WriterReport {
  flushes: { ok: boolean; sent: number; error?: string }[];
  counted: number;
}

/** Runs an IPC fixture as a child whose store is `store`, served over its real IPC channel. */
function runFixture<Report>(
  name: string,
  store: MemoryMetricsStore,
  env: Record<string, string> = {},
): Promise<Report> {
  const cluster = new EventEmitter();
  serveMetricsStore(store, cluster as Parameters<typeof serveMetricsStore>[1]);
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
});
