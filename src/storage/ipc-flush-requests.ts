import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';

import type { FlushRequestChannel, FlushRequestOutcome } from './metrics-store.js';

/** Messages between a worker's {@link IpcFlushRequests} and its primary ({@link serveFlushRequests}). */
type FlushMessage =
  // `channel`: the listening channel's id (a worker of an older version sends none).
  | { nrmFlush: 'listen'; channel?: string }
  | { nrmFlush: 'unlisten'; channel?: string }
  // The primary began to serve: a worker that listened before says so again.
  | { nrmFlush: 'hello' }
  | { nrmFlush: 'request'; id: string; waitMs: number }
  | { nrmFlush: 'flush'; key: string }
  | { nrmFlush: 'flushed'; key: string }
  | { nrmFlush: 'done'; id: string; asked: number; answered: number };

const NOBODY: FlushRequestOutcome = { asked: 0, answered: 0 };
/** A send's error callback: a worker that went away meanwhile is not waited for anyway. */
const ignore = () => undefined;
/**
 * How long past its own wait a worker waits for the primary's answer before giving up on it: at most
 * this, and never more than the wait itself (a short scrape budget stays short).
 */
const PRIMARY_MARGIN_MS = 100;

/**
 * Fresh scrapes between the workers of one node:cluster primary, for the embedded store (an
 * `IpcMetricsStore`): a worker's scrape asks the primary, the primary asks every listening worker
 * to flush and answers once all have, or when the wait is over. A worker listens from `listen` to
 * `close` only: its message listener keeps its IPC channel referenced (see docs/decisions.md).
 */
export class IpcFlushRequests implements FlushRequestChannel {
  private flush: (() => Promise<unknown>) | undefined;
  private readonly waiting = new Map<string, (outcome: FlushRequestOutcome) => void>();
  /** Names this channel to the primary, which may hear its `listen` twice (see `hello`). */
  private readonly id = randomBytes(6).toString('hex');

  constructor(private readonly channel: NodeJS.Process = process) {}

  private readonly onMessage = (message: FlushMessage) => {
    if (message?.nrmFlush === 'flush') void this.answer(message.key);
    // A primary that began to serve after this channel said it listens never heard it.
    else if (message?.nrmFlush === 'hello') this.send({ nrmFlush: 'listen', channel: this.id });
    else if (message?.nrmFlush === 'done') {
      this.waiting.get(message.id)?.({ asked: message.asked, answered: message.answered });
    }
  };

  listen(flush: () => Promise<unknown>): Promise<void> {
    if (this.flush) return Promise.resolve();
    this.flush = flush;
    this.channel.on('message', this.onMessage);
    this.send({ nrmFlush: 'listen', channel: this.id });
    return Promise.resolve();
  }

  request(waitMs: number): Promise<FlushRequestOutcome> {
    if (!this.flush || waitMs <= 0) return Promise.resolve(NOBODY);
    const id = randomBytes(8).toString('hex');
    return new Promise((resolve) => {
      const finish = (outcome: FlushRequestOutcome) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(outcome);
      };
      // The primary answers within the wait; this bounds a primary that does not.
      const timer = setTimeout(() => finish(NOBODY), waitMs + Math.min(PRIMARY_MARGIN_MS, waitMs));
      this.waiting.set(id, finish);
      if (!this.send({ nrmFlush: 'request', id, waitMs })) finish(NOBODY);
    });
  }

  close(): void {
    if (!this.flush) return;
    this.flush = undefined;
    this.send({ nrmFlush: 'unlisten', channel: this.id });
    this.channel.off('message', this.onMessage);
    for (const finish of [...this.waiting.values()]) finish(NOBODY);
  }

  private async answer(key: string): Promise<void> {
    await this.flush?.().catch(() => undefined);
    this.send({ nrmFlush: 'flushed', key });
  }

  /** Sends to the primary; false when the channel is closed. An error later is ignored: nobody waits on it. */
  private send(message: FlushMessage): boolean {
    if (!this.channel.connected || typeof this.channel.send !== 'function') return false;
    this.channel.send(message, undefined, {}, ignore);
    return true;
  }
}

/** What a primary needs of the cluster module to serve its workers: their messages, and when one goes away. */
export interface ClusterMessages {
  on(event: 'message', listener: (worker: Worker, message: unknown) => void): unknown;
  on(event: 'disconnect', listener: (worker: Worker) => void): unknown;
  /** The workers forked so far (node:cluster's `cluster.workers`): asked to say again that they listen. */
  readonly workers?: NodeJS.Dict<Worker>;
}

/** The listening channels of one worker: by id, and those of a worker of an older version by count. */
class WorkerChannels {
  private readonly ids = new Set<string>();
  private unnamed = 0;

  get size(): number {
    return this.ids.size + this.unnamed;
  }

  add(id: string | undefined): void {
    if (id === undefined) this.unnamed += 1;
    else this.ids.add(id);
  }

  delete(id: string | undefined): void {
    if (id === undefined) this.unnamed = Math.max(0, this.unnamed - 1);
    else this.ids.delete(id);
  }
}

/** A request the primary relays: the answers it still waits for, by worker, and how many came. */
interface Relayed {
  waitingFor: Map<Worker, number>;
  answered: number;
  finish: () => void;
}

/**
 * Relays fresh-scrape requests between the workers of a node:cluster primary (called by
 * `serveMetricsStore`): to every worker that listens, the requester included, and answers the
 * requester when all have flushed or `waitMs` passed. Workers forked before this call are asked to
 * say again that they listen: their first word reached a primary that did not listen yet.
 */
export function serveFlushRequests(cluster: ClusterMessages): void {
  /** Listening channels by worker (a worker may run more than one manager). */
  const listening = new Map<Worker, WorkerChannels>();
  const relayed = new Map<string, Relayed>();
  let lastKey = 0;

  /** Forgets workers that went away, so a crash loop leaves nothing behind. */
  const forgetGone = () => {
    for (const worker of listening.keys()) if (!worker.isConnected()) listening.delete(worker);
  };

  const relay = (requester: Worker, id: string, waitMs: number) => {
    forgetGone();
    const key = String((lastKey += 1));
    let asked = 0;
    const waitingFor = new Map<Worker, number>();
    for (const [worker, channels] of listening) {
      asked += channels.size;
      waitingFor.set(worker, channels.size);
    }
    const entry: Relayed = {
      waitingFor,
      answered: 0,
      finish: () => {
        clearTimeout(timer);
        relayed.delete(key);
        if (requester.isConnected()) {
          const done: FlushMessage = { nrmFlush: 'done', id, asked, answered: entry.answered };
          requester.send(done, undefined, {}, ignore);
        }
      },
    };
    const timer = setTimeout(() => entry.finish(), Math.max(0, waitMs));
    relayed.set(key, entry);
    if (asked === 0) return entry.finish();
    // One message a worker: each of its listening channels hears it and answers.
    const flush: FlushMessage = { nrmFlush: 'flush', key };
    for (const worker of listening.keys()) worker.send(flush, undefined, {}, ignore);
  };

  /** A worker's last channel stopped listening, or it went away: no request waits for it any longer. */
  const stopWaitingFor = (worker: Worker) => {
    for (const entry of [...relayed.values()]) {
      if (entry.waitingFor.delete(worker) && entry.waitingFor.size === 0) entry.finish();
    }
  };

  // A worker that went away (killed, crashed) mid-request answers nothing: not waited for any longer.
  cluster.on('disconnect', (worker) => {
    listening.delete(worker);
    stopWaitingFor(worker);
  });

  cluster.on('message', (worker, message) => {
    const flush = message as FlushMessage;
    switch (flush?.nrmFlush) {
      case 'listen': {
        forgetGone();
        const channels = listening.get(worker) ?? new WorkerChannels();
        channels.add(flush.channel);
        listening.set(worker, channels);
        return;
      }
      case 'unlisten': {
        const channels = listening.get(worker);
        channels?.delete(flush.channel);
        if (channels && channels.size > 0) return;
        listening.delete(worker);
        return stopWaitingFor(worker);
      }
      case 'request':
        return relay(worker, flush.id, Number(flush.waitMs));
      case 'flushed': {
        const entry = relayed.get(flush.key);
        const pending = entry?.waitingFor.get(worker);
        if (!entry || !pending) return;
        if (pending > 1) entry.waitingFor.set(worker, pending - 1);
        else entry.waitingFor.delete(worker);
        entry.answered += 1;
        if (entry.waitingFor.size === 0) entry.finish();
        return;
      }
    }
  });

  // Workers forked before this call said they listen to nobody: they are asked to say it again.
  const hello: FlushMessage = { nrmFlush: 'hello' };
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker?.isConnected()) worker.send(hello, undefined, {}, ignore);
  }
}
