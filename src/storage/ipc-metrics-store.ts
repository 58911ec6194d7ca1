import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';

import { RedisAuthenticationError, RedisConnectionError, RedisTimeoutError } from '../errors.js';
import { COMMAND_TIMEOUT_MS } from './create-redis-client.js';
import {
  IpcFlushRequests,
  serveFlushRequests,
  type ClusterMessages,
} from './ipc-flush-requests.js';
import type { Labels } from './keys.js';
import type {
  FlushRequestChannel,
  MetricsStore,
  ProcessIndex,
  ReadOptions,
  RebaseRequest,
  SeriesBatch,
  StoreSnapshot,
  WriteReply,
  WriterIdentity,
} from './metrics-store.js';
import { decodeNumber, encodeNumber } from './packed-values.js';

/**
 * A request from a worker's store to the primary's. Gauge values and the windows travel as text: JSON
 * has no Infinity and sends null, which the primary would read as 0 (an infinite stale age would end
 * every process). A gauge's time travels as a number when finite, as a primary of an earlier version
 * reads it, and as text otherwise (null: none given, the store's clock).
 */
type StoreRequest =
  | { op: 'write'; id: string; info: ReturnType<WriterIdentity['info']>; batch: WireBatch }
  | { op: 'rebase'; id: string; info: ReturnType<WriterIdentity['info']>; request: RebaseRequest }
  | { op: 'end'; processId: string; staleAfterMs?: string }
  | { op: 'read'; options?: ReadOptions }
  | { op: 'processIndex' }
  | { op: 'heldWrite'; processId: string }
  | { op: 'deleteSeries'; metricName: string; labels?: Labels };

type WireBatch = Omit<SeriesBatch, 'gauges' | 'staleAfterMs' | 'livenessWindowMs'> & {
  gauges: [string, string, number | string | null][];
  staleAfterMs?: string;
  livenessWindowMs?: string;
};

interface Envelope {
  nrmStore: 'request' | 'reply';
  /** The calling store: every store of a worker hears every reply on its one channel. */
  caller: string;
  seq: number;
  request?: StoreRequest;
  result?: unknown;
  /** The message of the error the primary's store rejected with. */
  error?: string;
  /** Its name: JSON carries no class, and a worker rebuilds the module's own (see {@link errorFromPrimary}). */
  errorName?: string;
  /** Its chain of causes, outermost first (see {@link causesOf}). */
  errorCauses?: WireCause[];
}

/** A cause as it crosses: its name and message only (not its other properties, which may hold secrets). */
interface WireCause {
  name: string;
  message: string;
}

/** How many causes deep an error crosses: enough for the module's own (one), bounded against cycles. */
const MAX_CAUSES = 4;

/** The module's errors that a store rejects with, by name, so that a worker rejects with the same class. */
const NAMED_ERRORS = new Map<string, new (message: string, options?: { cause?: unknown }) => Error>(
  [
    ['RedisConnectionError', RedisConnectionError],
    ['RedisTimeoutError', RedisTimeoutError],
    ['RedisAuthenticationError', RedisAuthenticationError],
  ],
);

/** The operations that change the primary's store. */
const CHANGING_OPS = new Set<StoreRequest['op']>(['write', 'rebase', 'end']);

/**
 * How long a worker waits for the primary's answer: a second past the time the module's Redis client
 * waits for a command, so that a primary whose Redis store stalls (Redis paused or overloaded) answers
 * first with that store's error, which names Redis, rather than a worker's guess at a primary that
 * serves no store. With the same time the primary's answer came a few ms after the worker had given
 * up on it.
 */
const TIMEOUT_MS = COMMAND_TIMEOUT_MS + 1000;

/**
 * A worker's view of the store its cluster primary keeps (see {@link serveMetricsStore}): every call
 * is a message to the primary and its reply. Fails (and the flush reports it) when the primary does
 * not answer within 6 s, and at once when the IPC channel closes before it answers. A call the
 * primary's store rejects is rejected with that error's message and name, the module's Redis errors
 * ({@link RedisConnectionError} and the like) as their own class, and its `cause` chain as errors of
 * the same names and messages (nothing else of them crosses: a failed command's arguments may hold a
 * password). Cannot be made in a worker of PM2's cluster mode, whose primary is PM2's daemon.
 */
export class IpcMetricsStore implements MetricsStore {
  readonly description = 'the cluster primary, over IPC';
  // There is no Redis here: a primary that answers nothing is blocked, stopped, or serves no store.
  readonly silenceCause =
    'the cluster primary blocked or stopped, or it does not serve the store with serveMetricsStore(store, cluster)';
  /** Tells this store's replies from those of another in the same worker (whose seq runs alike). */
  private readonly caller = randomBytes(8).toString('hex');
  private seq = 0;
  private readonly pending = new Map<
    number,
    { op: StoreRequest['op']; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  /**
   * @param channel the IPC channel to the cluster primary (a worker's `process`): every store made on
   * it reaches the primary's one store.
   */
  constructor(readonly channel: NodeJS.Process = process) {
    if (typeof channel.send !== 'function') {
      // Most often made where the module file is imported, which the primary does too.
      throw new Error(
        'IpcMetricsStore needs an IPC channel to a cluster primary, and this process has none (it is the primary, or was not forked): make it in the workers only, in a forRootAsync() factory rather than in forRoot() (the module file runs in the primary too), and serve a MemoryMetricsStore in the primary with serveMetricsStore(store, cluster)',
      );
    }
    if (channel === process && isPm2ClusterWorker()) {
      throw new Error(
        "IpcMetricsStore cannot work in a PM2 cluster-mode worker: its cluster primary is PM2's daemon, which serves no store and answers nothing (every flush and scrape would wait 6 s and fail). Store the metrics in Redis (url or client), which every PM2 worker shares",
      );
    }
  }

  /**
   * Takes the primary's replies. Listening (to `message` or `disconnect`) keeps the worker alive, so
   * only while a call waits.
   */
  private readonly onMessage = (message: Envelope) => {
    if (message?.nrmStore !== 'reply' || message.caller !== this.caller) return;
    const waiting = this.pending.get(message.seq);
    if (!waiting) return;
    this.settle(message.seq);
    if (message.error !== undefined) {
      waiting.reject(errorFromPrimary(message.error, message.errorName, message.errorCauses));
    } else waiting.resolve(message.result);
  };

  /**
   * The channel closed (this worker disconnected, or its primary did it) while calls wait: no answer
   * can come any longer. Without this they waited out the timeout, which blamed a primary that serves
   * no store, or never settled at all in a process that nothing else kept alive.
   */
  private readonly onDisconnect = () => {
    for (const [seq, waiting] of [...this.pending]) {
      this.settle(seq);
      // Only a call that changes the store leaves it in doubt; a read changed nothing.
      const doubt = CHANGING_OPS.has(waiting.op) ? ' (it may have been applied or not)' : '';
      waiting.reject(
        new Error(
          `the IPC channel to the cluster primary closed before the primary answered a ${waiting.op}${doubt}`,
        ),
      );
    }
  };

  private settle(seq: number): void {
    this.pending.delete(seq);
    if (this.pending.size > 0) return;
    this.channel.off('message', this.onMessage);
    this.channel.off('disconnect', this.onDisconnect);
  }

  write(identity: WriterIdentity, batch: SeriesBatch): Promise<WriteReply> {
    const gauges = (batch.gauges ?? []).map(
      ([field, { value, timestamp }]) =>
        [field, encodeNumber(value), timeForWire(timestamp)] as [
          string,
          string,
          number | string | null,
        ],
    );
    return this.call({
      op: 'write',
      id: identity.id,
      info: identity.info(),
      batch: {
        ...batch,
        gauges,
        staleAfterMs: numberText(batch.staleAfterMs),
        livenessWindowMs: numberText(batch.livenessWindowMs),
      },
    }) as Promise<WriteReply>;
  }

  rebase(identity: WriterIdentity, request: RebaseRequest): Promise<WriteReply> {
    return this.call({
      op: 'rebase',
      id: identity.id,
      info: identity.info(),
      request,
    }) as Promise<WriteReply>;
  }

  end(processId: string, staleAfterMs?: number): Promise<'ended' | 'absent' | 'alive'> {
    return this.call({ op: 'end', processId, staleAfterMs: numberText(staleAfterMs) }) as Promise<
      'ended' | 'absent' | 'alive'
    >;
  }

  read(options?: ReadOptions): Promise<StoreSnapshot> {
    return this.call({ op: 'read', options }) as Promise<StoreSnapshot>;
  }

  processIndex(): Promise<ProcessIndex> {
    return this.call({ op: 'processIndex' }) as Promise<ProcessIndex>;
  }

  /**
   * The primary's store's answer (see {@link MetricsStore.heldWrite}); `undefined` (cannot tell) when
   * that store has none, or the primary is of an earlier version: one that refuses the operation as
   * unknown, or one older still that answers nothing. Never `null` then, which would count the
   * registry whole again.
   */
  async heldWrite(processId: string): Promise<number | null | undefined> {
    let held: unknown;
    try {
      held = await this.call({ op: 'heldWrite', processId });
    } catch (error) {
      if (isUnknownOperation(error, 'heldWrite')) return undefined;
      throw error;
    }
    return typeof held === 'number' || held === null ? held : undefined;
  }

  /**
   * Deletes in the primary's store (see {@link MetricsStore.deleteSeries}). Rejects when the primary
   * cannot: one of an earlier version refuses the operation as unknown, or (older still) answers
   * without a count, which would otherwise resolve `undefined` as if something had been deleted.
   */
  async deleteSeries(metricName: string, labels?: Labels): Promise<number> {
    const deleted = await this.call({ op: 'deleteSeries', metricName, labels });
    if (typeof deleted !== 'number') {
      throw new Error(
        'the cluster primary answered a deleteSeries without a count of deleted series: it runs an earlier version of nestjs-redis-metrics than its workers, which cannot delete series',
      );
    }
    return deleted;
  }

  /** Fresh scrapes among the primary's workers, relayed by the primary: a new channel each call. */
  flushRequests(): FlushRequestChannel {
    return new IpcFlushRequests(this.channel);
  }

  private call(request: StoreRequest): Promise<unknown> {
    const seq = (this.seq += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(seq);
        reject(
          // Most likely a primary that serves no store: its workers' requests go unheard.
          new Error(
            `the cluster primary did not answer a ${request.op} within ${TIMEOUT_MS} ms (does it serve the store with serveMetricsStore(store, cluster)? is it blocked?)`,
          ),
        );
      }, TIMEOUT_MS);
      timer.unref();
      if (this.pending.size === 0) {
        this.channel.on('message', this.onMessage);
        this.channel.on('disconnect', this.onDisconnect);
      }
      this.pending.set(seq, {
        op: request.op,
        resolve: (value) => (clearTimeout(timer), resolve(value)),
        reject: (error) => (clearTimeout(timer), reject(error)),
      });
      // `send` returning false only means its queue is long (a flush sends several batches at
      // once): the message still goes. A channel that is closed reports it here.
      this.channel.send!(
        { nrmStore: 'request', caller: this.caller, seq, request } satisfies Envelope,
        undefined,
        {},
        (error) => {
          const waiting = error ? this.pending.get(seq) : undefined;
          if (!waiting) return;
          this.settle(seq);
          waiting.reject(
            new Error(`the IPC channel to the cluster primary failed: ${error!.message}`),
          );
        },
      );
    });
  }
}

/**
 * Whether this process is a worker of PM2's cluster mode (`pm2 start app.js -i 2`): PM2 forks it with
 * node:cluster from its own daemon and gives it its `pm_id` and `exec_mode` in the environment. A
 * node:cluster worker of an app's own primary that PM2 runs in fork mode inherits `pm_id` too, but
 * `exec_mode` is `fork_mode` there, and that primary can serve the store.
 */
function isPm2ClusterWorker(): boolean {
  return (
    cluster.isWorker && process.env.pm_id !== undefined && process.env.exec_mode === 'cluster_mode'
  );
}

/**
 * Serves a store to the workers of a node:cluster primary: call it in the primary with the cluster
 * module; each worker uses an {@link IpcMetricsStore}. It relays the workers' fresh scrapes too. When
 * a worker goes away (killed, crashed, or stopped), the processes it wrote are ended in the store, as
 * `markProcessDead()` ends them: their gauges leave the next scrape, their counts stay.
 */
export function serveMetricsStore(store: MetricsStore, cluster: ClusterMessages): void {
  serveFlushRequests(cluster);
  /** The processes each worker wrote, to end when its channel closes. */
  const writers = new Map<Worker, Set<string>>();
  // After 'disconnect' no message of the worker is left unread, so no write of it can come after the end.
  cluster.on('disconnect', (worker) => {
    const ids = writers.get(worker);
    writers.delete(worker);
    for (const id of ids ?? []) void store.end(id).catch(() => undefined);
  });
  cluster.on('message', (worker, message) => {
    const envelope = message as Envelope;
    if (envelope?.nrmStore !== 'request' || !envelope.request) return;
    const { request } = envelope;
    if (request.op === 'write' || request.op === 'rebase') {
      // A worker whose channel already closed (a message read late) is not kept: it would stay.
      if (worker.isConnected())
        writers.set(worker, (writers.get(worker) ?? new Set()).add(request.id));
    }
    // With a callback, a worker that died since the request cannot make the send throw or emit an
    // 'error' that nobody listens to (which would end the primary).
    const reply = (body: Pick<Envelope, 'result' | 'error' | 'errorName' | 'errorCauses'>) =>
      worker.isConnected() &&
      worker.send(
        { nrmStore: 'reply', caller: envelope.caller, seq: envelope.seq, ...body },
        undefined,
        {},
        () => undefined,
      );
    void answer(store, envelope.request).then(
      (result) => reply({ result }),
      (error: unknown) =>
        reply({
          error: String((error as Error)?.message ?? error),
          errorName: error instanceof Error ? error.name : undefined,
          errorCauses: causesOf(error),
        }),
    );
  });
}

async function answer(store: MetricsStore, request: StoreRequest): Promise<unknown> {
  switch (request.op) {
    case 'write': {
      const identity = { id: request.id, info: () => request.info };
      const gauges = request.batch.gauges.map(
        ([field, text, timestamp]) =>
          [field, { value: decodeNumber(text) ?? NaN, timestamp: timeFromWire(timestamp) }] as [
            string,
            { value: number; timestamp?: number },
          ],
      );
      const { staleAfterMs, livenessWindowMs } = request.batch;
      return store.write(identity, {
        ...request.batch,
        gauges,
        staleAfterMs: textNumber(staleAfterMs),
        livenessWindowMs: textNumber(livenessWindowMs),
      });
    }
    case 'rebase':
      return store.rebase({ id: request.id, info: () => request.info }, request.request);
    case 'end':
      return store.end(request.processId, textNumber(request.staleAfterMs));
    case 'read':
      return store.read(request.options);
    case 'processIndex':
      return store.processIndex();
    case 'heldWrite':
      // A store without it cannot tell: `undefined`, which JSON leaves out of the reply.
      return store.heldWrite?.(request.processId);
    case 'deleteSeries':
      if (!store.deleteSeries) {
        throw new Error(`the cluster primary's store (${store.description}) cannot delete series`);
      }
      return store.deleteSeries(request.metricName, request.labels);
    default:
      // A worker of another version (forked after the code on disk changed) would otherwise get
      // `undefined` for an answer and fail on it, far from the cause.
      throw new Error(unknownOperationMessage((request as { op: unknown }).op));
  }
}

/**
 * How a primary refuses an operation it does not know. A worker reads this very text as a primary of
 * an earlier version (see {@link isUnknownOperation}), so it must not change: primaries already
 * running send it as it is.
 */
function unknownOperationMessage(op: unknown): string {
  return `the cluster primary does not know the operation "${String(op)}" (are the primary and its workers running the same version of nestjs-redis-metrics?)`;
}

/** Whether a call was rejected by a primary that does not know its operation `op`, and by nothing else. */
function isUnknownOperation(error: unknown, op: StoreRequest['op']): boolean {
  return (
    error instanceof Error &&
    error.name === 'Error' &&
    error.cause === undefined &&
    error.message === unknownOperationMessage(op)
  );
}

/** The causes of an error the primary's store rejected with, outermost first: the Error ones, by name and message. */
function causesOf(error: unknown): WireCause[] | undefined {
  const causes: WireCause[] = [];
  let cause = (error as { cause?: unknown } | null)?.cause;
  while (cause instanceof Error && causes.length < MAX_CAUSES) {
    causes.push({ name: cause.name, message: String(cause.message) });
    cause = (cause as { cause?: unknown }).cause;
  }
  return causes.length > 0 ? causes : undefined;
}

/**
 * The error a worker's call rejects with: the primary's, by message and name, with its causes, so the
 * caller sees what it would see with the store in its own process (the module's Redis errors as their
 * own class).
 */
function errorFromPrimary(
  message: string,
  name: string | undefined,
  causes: readonly WireCause[] = [],
): Error {
  let cause: Error | undefined;
  for (let i = causes.length - 1; i >= 0; i -= 1) {
    cause = namedError(causes[i].message, causes[i].name, cause);
  }
  return namedError(message, name, cause);
}

function namedError(message: string, name: string | undefined, cause: Error | undefined): Error {
  const options = cause === undefined ? undefined : { cause };
  const Named = name === undefined ? undefined : NAMED_ERRORS.get(name);
  if (Named) return new Named(message, options);
  const error = new Error(message, options);
  if (name && name !== 'Error') error.name = name;
  return error;
}

/** A gauge's time for the wire (see {@link StoreRequest}). */
function timeForWire(time: number | undefined): number | string | null {
  if (time === undefined) return null;
  return Number.isFinite(time) ? time : encodeNumber(time);
}

/** A gauge's time from the wire. */
function timeFromWire(time: number | string | null): number | undefined {
  if (time === null) return undefined;
  return typeof time === 'number' ? time : (decodeNumber(time) ?? NaN);
}

/** An optional number as text for the wire (see {@link StoreRequest}). */
function numberText(value: number | undefined): string | undefined {
  return value === undefined ? undefined : encodeNumber(value);
}

function textNumber(text: string | undefined): number | undefined {
  return text === undefined ? undefined : (decodeNumber(text) ?? NaN);
}
