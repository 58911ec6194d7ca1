import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';

import type { FlushRequestChannel, FlushRequestOutcome } from './metrics-store.js';

/** Messages between a worker's {@link IpcFlushRequests} and its primary ({@link serveFlushRequests}). */
type FlushMessage =
  | { nrmFlush: 'listen' }
  | { nrmFlush: 'unlisten' }
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

  constructor(private readonly channel: NodeJS.Process = process) {}

  private readonly onMessage = (message: FlushMessage) => {
    if (message?.nrmFlush === 'flush') void this.answer(message.key);
    else if (message?.nrmFlush === 'done') {
      this.waiting.get(message.id)?.({ asked: message.asked, answered: message.answered });
    }
  };

  listen(flush: () => Promise<unknown>): Promise<void> {
    if (this.flush) return Promise.resolve();
    this.flush = flush;
    this.channel.on('message', this.onMessage);
    this.send({ nrmFlush: 'listen' });
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
    this.send({ nrmFlush: 'unlisten' });
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
 * requester when all have flushed or `waitMs` passed.
 */
export function serveFlushRequests(cluster: ClusterMessages): void {
  /** Listening channels by worker (a worker may run more than one manager). */
  const listening = new Map<Worker, number>();
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
    for (const channels of listening.values()) asked += channels;
    const entry: Relayed = {
      waitingFor: new Map(listening),
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
      case 'listen':
        forgetGone();
        listening.set(worker, (listening.get(worker) ?? 0) + 1);
        return;
      case 'unlisten': {
        const channels = (listening.get(worker) ?? 0) - 1;
        if (channels > 0) return void listening.set(worker, channels);
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
}
