import { randomBytes } from 'node:crypto';

import { Cluster } from 'ioredis';

import { failUnlessClusterReady } from './cluster-readiness.js';
import { describeRedisError, nameSettings, namedSettingsOf } from './describe-redis-error.js';
import type { RedisClient } from './lua-scripts.js';
import type { FlushRequestChannel, FlushRequestOutcome } from './metrics-store.js';

/**
 * Fresh scrapes over Redis pub/sub: a scraping process asks every process of the prefix to flush now
 * and waits, up to a bound, until each has written, so a count made before the scrape is in it. Every
 * process listens on its own subscriber connection (a duplicate of its client), flushes when asked
 * and says so. A process that does not answer in time is served as it last flushed.
 *
 * The number asked is how many subscribers of the request channel got the request (PUBSUB NUMSUB, in
 * the PUBLISH's round trip). On Redis Cluster it is PUBLISH's count, which counts the subscribers of
 * the one node that took the PUBLISH (the message reaches every node), mostly none or one of them:
 * there the scrape waits for its own process's answer, and for as many as the store counted live at
 * the write that answer made (or at the last one before, if more). A process that started since this
 * process last wrote is counted so. A live process that does not listen (fresh scrapes off) then
 * makes it wait its whole bound.
 */
export class FlushRequests implements FlushRequestChannel {
  private readonly requestChannel: string;
  private readonly replyChannel: string;
  private subscriber: RedisClient | undefined;
  /** This process's flush, for a request its own subscriber cannot hear. */
  private flushSelf: (() => Promise<unknown>) | undefined;
  /** Requests of this process in flight: answers so far, and what ends their wait. */
  private readonly waiting = new Map<
    string,
    { answered: number; answeredSelf: boolean; wake: () => void; stop: () => void }
  >();

  /** The PUBLISHes failing now, each said once until one of its kind succeeds again. */
  private readonly failing = new Set<'request' | 'answer'>();

  /**
   * @param liveNow how many processes the store counted live at this process's last write (its flush
   *   for a request updates it before it answers); read on Redis Cluster only.
   * @param warn where a PUBLISH that fails is said, once until it works again: without it fresh scrapes
   *   stop (or wait their whole bound) without a word.
   */
  constructor(
    private readonly client: RedisClient,
    keyPrefix: string,
    private readonly processId: string,
    private readonly liveNow: () => number | undefined = () => undefined,
    private readonly warn: (message: string) => void = () => undefined,
  ) {
    this.requestChannel = `{${keyPrefix}}:flush-requests`;
    this.replyChannel = `{${keyPrefix}}:flushed`;
  }

  /** Listens for requests (and for answers to this process's own); `flush` writes this process now. */
  async listen(flush: () => Promise<unknown>): Promise<void> {
    if (this.subscriber) return;
    this.flushSelf = flush;
    // Its own connection: a subscribed connection takes no other commands. It may queue its SUBSCRIBE
    // until connected, and subscribes again after a reconnect.
    const subscriber = duplicate(this.client);
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.requestChannel) void this.answer(message, flush);
      else if (channel === this.replyChannel) this.count(message);
    });
    await subscriber.subscribe(this.requestChannel, this.replyChannel);
  }

  /**
   * Asks every listening process to flush, and waits until all answered or `waitMs` passed. Never
   * rejects: a request that cannot be sent is answered by nobody.
   */
  async request(waitMs: number, liveProcesses?: number): Promise<FlushRequestOutcome> {
    if (!this.subscriber || waitMs <= 0) return { asked: 0, answered: 0 };
    const id = randomBytes(8).toString('hex');
    const entry = {
      answered: 0,
      answeredSelf: false,
      wake: () => undefined,
      stop: () => undefined,
    };
    this.waiting.set(id, entry);
    // A subscriber being reconnected (its connection dropped a moment ago) hears neither this request
    // nor its answers: this process then flushes itself, so that its own counts are in the scrape.
    const self = this.subscriber.status === 'ready' ? undefined : this.flushSelf;
    const flushedSelf = self?.().then(
      () => {
        entry.answered += 1;
        entry.answeredSelf = true;
        entry.wake();
      },
      () => undefined,
    );
    try {
      const cluster = this.client instanceof Cluster;
      const published = (await this.publishRequest(id, cluster)) + (self ? 1 : 0);
      // On a Cluster, PUBLISH does not count who got it: the processes counted live are asked, as of
      // this process's own answer, whose write counted them (a process may have started since the
      // write before). Until that answer, as of that write.
      const asked = () =>
        cluster ? Math.max(published, liveProcesses ?? 0, this.liveNow() ?? 0) : published;
      const done = () => entry.answered >= asked() && (!cluster || entry.answeredSelf);
      // Closed meanwhile: no answer can come any more (they come through the subscriber), but for
      // this process's own flush.
      if (!done() && (this.subscriber || flushedSelf)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          entry.stop = () => {
            clearTimeout(timer);
            resolve();
          };
          entry.wake = () => {
            if (done()) entry.stop();
          };
        });
      }
      return { asked: asked(), answered: entry.answered };
    } catch (error) {
      this.failed(
        'request',
        error,
        `Fresh scrapes cannot ask the other processes to flush: PUBLISH on ${this.requestChannel} failed`,
        'scrapes show what each process flushed last',
      );
      return { asked: 0, answered: 0 };
    } finally {
      this.waiting.delete(id);
    }
  }

  /** Stops listening and closes the subscriber connection; requests in flight stop waiting. */
  close(): void {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    for (const entry of this.waiting.values()) entry.stop();
    // Not QUIT: with Redis away it would wait in the offline queue.
    subscriber?.disconnect();
  }

  /**
   * Sends a request: how many listening processes got it. PUBLISH's own count also takes in pattern
   * subscribers whose pattern matches (a `PSUBSCRIBE *` of redis-cli or a monitoring tool), which never
   * answer: each scrape then waited its whole bound. Outside Redis Cluster, PUBSUB NUMSUB, sent in the
   * same round trip, counts the channel's own subscribers only. A user whose ACL does not allow PUBSUB
   * gets PUBLISH's count. On a Cluster both count one node's subscribers only, so PUBLISH's is kept.
   */
  private async publishRequest(id: string, cluster: boolean): Promise<number> {
    if (cluster) {
      // Not kept in a Cluster's offline queue for the scrape's whole timeout: failed at once.
      failUnlessClusterReady(this.client);
      const published = Number(await this.client.publish(this.requestChannel, id));
      this.failing.delete('request');
      return published;
    }
    const replies = await this.client
      .pipeline()
      .pubsub('NUMSUB', this.requestChannel)
      .publish(this.requestChannel, id)
      .exec();
    const [[listenersError, listeners], [publishError, published]] = replies ?? [];
    if (publishError) throw publishError;
    this.failing.delete('request');
    const got = Number(published);
    // A reply of another shape (a proxy in between, say) would make every scrape wait its whole bound.
    const channelListeners = listenersError ? NaN : Number((listeners as unknown[])?.[1]);
    if (!Number.isFinite(channelListeners)) return got;
    // A subscriber that came or went between the two: the smaller count (the wait ends on `>=`).
    return Math.min(got, channelListeners);
  }

  private async answer(requestId: string, flush: () => Promise<unknown>): Promise<void> {
    // A failed flush is the flusher's to tell.
    await flush().catch(() => undefined);
    try {
      await this.client.publish(this.replyChannel, `${requestId} ${this.processId}`);
      this.failing.delete('answer');
    } catch (error) {
      this.failed(
        'answer',
        error,
        `This process cannot answer fresh-scrape requests: PUBLISH on ${this.replyChannel} failed`,
        'a fresh scrape waits for it until its bound',
      );
    }
  }

  /** Says a failed PUBLISH, with its cause, once until one of its kind succeeds again. */
  private failed(kind: 'request' | 'answer', error: unknown, what: string, effect: string): void {
    if (this.failing.has(kind)) return;
    this.failing.add(kind);
    this.warn(`${what} (${describeRedisError(error, this.client)}); ${effect}.`);
  }

  private count(message: string): void {
    const space = message.indexOf(' ');
    const entry = this.waiting.get(message.slice(0, space));
    if (!entry) return;
    entry.answered += 1;
    if (message.slice(space + 1) === this.processId) entry.answeredSelf = true;
    entry.wake();
  }
}

/**
 * A new connection like `client`, with an offline queue so SUBSCRIBE may be sent while it connects.
 * Its SUBSCRIBE waits there however long Redis is away: with the client's `maxRetriesPerRequest` (the
 * module's is 1) it was rejected after a failed reconnection, and a subscription that never succeeded
 * is not made again after a reconnect, so the process never heard a fresh-scrape request.
 */
function duplicate(client: RedisClient): RedisClient {
  if (client instanceof Cluster) return client.duplicate(undefined, { enableOfflineQueue: true });
  const copy = client.duplicate({
    enableOfflineQueue: true,
    lazyConnect: false,
    maxRetriesPerRequest: null,
    // Whatever the client of the user's says: without it, the subscriber is not subscribed again
    // after a reconnection, and the process no longer hears requests without a word.
    autoResubscribe: true,
  });
  // A plain ioredis copy of a client of the user's: its hints name the same settings.
  nameSettings(copy, namedSettingsOf(client));
  return copy;
}
