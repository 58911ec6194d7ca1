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
/** How long past its own wait a worker waits for the primary's answer before giving up on it. */
const PRIMARY_MARGIN_MS = 100;

/**
 * Fresh scrapes between the workers of one node:cluster primary, for the embedded store (see
 * {@link IpcMetricsStore}): a worker's scrape asks the primary, the primary asks every listening worker
 * to flush and answers once all have, or when the wait is over. A worker listens from `listen` to
 * `close` only: its message listener keeps its IPC channel, and so the worker, alive.
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
      const timer = setTimeout(() => finish(NOBODY), waitMs + PRIMARY_MARGIN_MS);
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
    this.channel.send(message, undefined, {}, () => undefined);
    return true;
  }
}

/** A request the primary relays: the workers it still waits for, and how many answered. */
interface Relayed {
  waitingFor: Set<Worker>;
  answered: number;
  finish: () => void;
}

/**
 * Relays fresh-scrape requests between the workers of a node:cluster primary (called by
 * `serveMetricsStore`): to every worker that listens, the requester included, and answers the
 * requester when all have flushed or `waitMs` passed.
 */
export function serveFlushRequests(cluster: {
  on(event: 'message', listener: (worker: Worker, message: unknown) => void): unknown;
}): void {
  const listening = new Set<Worker>();
  const relayed = new Map<string, Relayed>();
  let lastKey = 0;

  const relay = (requester: Worker, id: string, waitMs: number) => {
    for (const worker of listening) if (!worker.isConnected()) listening.delete(worker);
    const key = String((lastKey += 1));
    const asked = listening.size;
    const entry: Relayed = {
      waitingFor: new Set(listening),
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
    const flush: FlushMessage = { nrmFlush: 'flush', key };
    for (const worker of listening) worker.send(flush, undefined, {}, ignore);
  };

  cluster.on('message', (worker, message) => {
    const flush = message as FlushMessage;
    switch (flush?.nrmFlush) {
      case 'listen':
        listening.add(worker);
        return;
      case 'unlisten':
        listening.delete(worker);
        return;
      case 'request':
        return relay(worker, flush.id, Number(flush.waitMs));
      case 'flushed': {
        const entry = relayed.get(flush.key);
        if (!entry?.waitingFor.delete(worker)) return;
        entry.answered += 1;
        if (entry.waitingFor.size === 0) entry.finish();
        return;
      }
    }
  });
}
