import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';

import type { FlushRequestOutcome } from '../../src/index.js';
import { IpcFlushRequests, serveFlushRequests } from '../../src/storage/ipc-flush-requests.js';

/**
 * node:cluster's IPC in one process: a primary's `cluster` and workers whose `process` channel and
 * primary-side `Worker` pass messages to each other asynchronously, copied as IPC copies them. (The
 * sample's own test runs the real thing: test/sample/embedded-fresh-scrapes.spec.ts.)
 */
function fakeCluster() {
  const cluster = new EventEmitter();
  serveFlushRequests(cluster as Parameters<typeof serveFlushRequests>[0]);
  const deliver = (emit: () => void) => setImmediate(emit);
  const copy = (message: unknown) => JSON.parse(JSON.stringify(message)) as unknown;
  return {
    cluster,
    worker() {
      const channel = new EventEmitter() as EventEmitter & { connected: boolean; send: unknown };
      const worker = {
        isConnected: () => channel.connected,
        send(message: unknown, _handle: unknown, _options: unknown, done: () => void) {
          deliver(() => channel.emit('message', copy(message)));
          done();
          return true;
        },
      } as unknown as Worker;
      channel.connected = true;
      channel.send = (message: unknown, _handle: unknown, _options: unknown, done: () => void) => {
        deliver(() => cluster.emit('message', worker, copy(message)));
        done();
        return true;
      };
      /** A channel of this worker whose flush counts its calls (or never ends, when `stuck`). */
      const listener = async (stuck = false) => {
        const flushes = { count: 0 };
        const requests = new IpcFlushRequests(channel as unknown as NodeJS.Process);
        await requests.listen(() => {
          flushes.count += 1;
          return stuck ? new Promise(() => undefined) : Promise.resolve();
        });
        return { requests, flushes };
      };
      return { channel, worker, listener };
    },
  };
}

/** Lets the queued messages go through. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** The request's outcome, or 'still waiting' if it did not end within 2 s (its wait is a minute). */
function within2s(request: Promise<FlushRequestOutcome>) {
  const later = new Promise<'still waiting'>((resolve) =>
    setTimeout(() => resolve('still waiting'), 2000).unref(),
  );
  return Promise.race([request, later]);
}

describe('fresh scrapes through the cluster primary (IpcFlushRequests and serveFlushRequests)', () => {
  it('asks every listening channel, the requester’s included, and answers once all have flushed', async () => {
    const { worker } = fakeCluster();
    const a = await worker().listener();
    const b = await worker().listener();
    await settle();

    const outcome = await within2s(a.requests.request(60_000));

    expect(outcome).toEqual({ asked: 2, answered: 2 });
    expect([a.flushes.count, b.flushes.count]).toEqual([1, 1]);
  });

  it('keeps asking a worker while one of its channels still listens', async () => {
    const { worker } = fakeCluster();
    const shared = worker();
    const closing = await shared.listener();
    const staying = await shared.listener();
    const other = await worker().listener();
    await settle();
    closing.requests.close();
    await settle();

    const outcome = await within2s(other.requests.request(60_000));

    expect(outcome).toEqual({ asked: 2, answered: 2 });
    expect([closing.flushes.count, staying.flushes.count, other.flushes.count]).toEqual([0, 1, 1]);
  });

  it('stops waiting for a worker that stops listening, and answers with what came', async () => {
    const { worker } = fakeCluster();
    const requester = await worker().listener();
    const stuck = await worker().listener(true);
    await settle();

    const request = requester.requests.request(60_000);
    await settle();
    stuck.requests.close();

    expect(await within2s(request)).toEqual({ asked: 2, answered: 1 });
  });

  it('stops waiting for a worker that went away during the request', async () => {
    const { cluster, worker } = fakeCluster();
    const requester = await worker().listener();
    const dying = worker();
    await dying.listener(true);
    await settle();

    const request = requester.requests.request(60_000);
    await settle();
    // Killed: its channel closes, and the cluster says so.
    dying.channel.connected = false;
    cluster.emit('disconnect', dying.worker);

    expect(await within2s(request)).toEqual({ asked: 2, answered: 1 });
  });

  it('answers after the wait when a worker does not flush in time', async () => {
    const { worker } = fakeCluster();
    const requester = await worker().listener();
    await worker().listener(true);
    await settle();

    expect(await requester.requests.request(200)).toEqual({ asked: 2, answered: 1 });
  });

  it('does not ask a worker that went away', async () => {
    const { worker } = fakeCluster();
    const requester = await worker().listener();
    const gone = worker();
    await gone.listener(true);
    await settle();
    gone.channel.connected = false;

    expect(await within2s(requester.requests.request(60_000))).toEqual({ asked: 1, answered: 1 });
  });

  it('answers nobody before listening, after closing, or with no wait', async () => {
    const { worker } = fakeCluster();
    const idle = new IpcFlushRequests(worker().channel as unknown as NodeJS.Process);
    const closed = await worker().listener();
    closed.requests.close();

    expect(await idle.request(1000)).toEqual({ asked: 0, answered: 0 });
    expect(await closed.requests.request(1000)).toEqual({ asked: 0, answered: 0 });
    expect(await (await worker().listener()).requests.request(0)).toEqual({
      asked: 0,
      answered: 0,
    });
  });
});
