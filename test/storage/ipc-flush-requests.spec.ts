import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';

import type { FlushRequestOutcome } from '../../src/index.js';
import { IpcFlushRequests, serveFlushRequests } from '../../src/storage/ipc-flush-requests.js';

/**
 * node:cluster's IPC in one process: a primary's `cluster` and workers whose `process` channel and
 * primary-side `Worker` pass messages to each other asynchronously, copied as IPC copies them. (The
 * sample's own test runs the real thing: test/sample/embedded-fresh-scrapes.spec.ts.)
 */
function fakeCluster({ served = true } = {}) {
  const cluster = Object.assign(new EventEmitter(), { workers: {} as Record<string, Worker> });
  /** The primary begins to serve (at once unless `served: false`). */
  const serve = () => serveFlushRequests(cluster as Parameters<typeof serveFlushRequests>[0]);
  if (served) serve();
  const deliver = (emit: () => void) => setImmediate(emit);
  const copy = (message: unknown) => JSON.parse(JSON.stringify(message)) as unknown;
  let forked = 0;
  return {
    cluster,
    serve,
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
      cluster.workers[String((forked += 1))] = worker;
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

  it('asks workers that listened before the primary served, once it does', async () => {
    const { worker, serve } = fakeCluster({ served: false });
    const early = await worker().listener();
    const other = await worker().listener();
    // Their "listen" reached a primary that did not serve yet: nobody heard it.
    await settle();
    serve();
    await settle();

    const outcome = await within2s(early.requests.request(60_000));

    // They were never asked: { asked: 0, answered: 0 }, and no flush.
    expect(outcome).toEqual({ asked: 2, answered: 2 });
    expect([early.flushes.count, other.flushes.count]).toEqual([1, 1]);
  });

  it('counts a channel once when its "listen" and its answer to the primary\'s hello both arrive', async () => {
    const { worker, serve } = fakeCluster({ served: false });
    const requester = await worker().listener();
    // Served before the worker's "listen" is delivered: that "listen" arrives, then the one answering
    // the hello; waiting for two answers from one channel would wait out the whole request.
    serve();
    await settle();

    const outcome = await within2s(requester.requests.request(60_000));

    expect(outcome).toEqual({ asked: 1, answered: 1 });
  });

  it('counts the channels of a worker of an older version, whose messages name none', async () => {
    const { worker } = fakeCluster();
    const requester = await worker().listener();
    const older = worker();
    const send = older.channel.send as (
      message: unknown,
      h: unknown,
      o: unknown,
      done: () => void,
    ) => void;
    // Two channels listen and one stops, as an older worker says it: no channel id.
    let flushes = 0;
    older.channel.on('message', (message: { nrmFlush?: string; key?: string }) => {
      if (message.nrmFlush !== 'flush') return;
      flushes += 1;
      send({ nrmFlush: 'flushed', key: message.key }, undefined, {}, () => undefined);
    });
    for (const nrmFlush of ['listen', 'listen', 'unlisten'])
      send({ nrmFlush }, undefined, {}, () => undefined);
    await settle();

    const outcome = await within2s(requester.requests.request(60_000));

    expect(outcome).toEqual({ asked: 2, answered: 2 });
    expect(flushes).toBe(1);
  });
});
