import { performance } from 'node:perf_hooks';

import type { Registry, RegistryContentType } from 'prom-client';

import { ClockOffset, monotonicTimeOf } from './clock-offset.js';
import type { CounterLedger, CounterSeries } from './counter-ledger.js';
import { ExemplarReader } from './exemplar-reader.js';
import type { MetricMeta } from './keys.js';
import type { MetricsStore, SeriesBatch, StoredMarkers, WriteReply } from './metrics-store.js';
import type { ProcessIdentity } from './process-identity.js';
import { deliversNothing, type DeliveredCounts } from './registry-handover.js';
import { RegistryReader, type RegistryView } from './registry-reader.js';
import type { GaugeModeResolver } from './registry-snapshot.js';
import {
  markersAtWrite,
  planRepair,
  type PreviousValuesLoad,
  type RepairPlan,
  valuesAtWrite,
  type WriteHistory,
} from './repair-plan.js';
import { encodeExemplar } from './stored-exemplar.js';
import { SummaryWindowReader } from './summary-windows.js';
import { encodeWindowDigest } from './window-digest.js';
import { splitIntoBatches, type BatchContent, type SeriesChanges } from './write-batches.js';

/** Where the flusher reports trouble. Nest's `Logger` fits. */
export interface FlushLogger {
  warn(message: string): void;
  log(message: string): void;
}

/** Why a flush after {@link MetricsFlusher.end} or {@link MetricsFlusher.abandon} writes nothing. */
const ENDED = 'this process has ended its part in the metrics storage';
const ABANDONED =
  'this process stopped writing to the metrics storage (its shutdown ran out of time)';
/**
 * Rounds of a flush sent again after a batch was refused behind an applied one, or left unsent behind
 * an error (see `sendAll`).
 */
const MAX_SENDS_AGAIN = 3;
/** Repairs' loads remembered (write numbers only, but for the latest). */
const MAX_LOADS_KEPT = 16;
/**
 * Batches of one flush sent before the reply of the first of them came. Waiting for each reply before
 * sending the next made a process wake up for each one: a flush of 20 batches cost about a fifth more
 * CPU (docs/decisions.md, "A flush's batches go as a chain"). A few in flight keep what is built
 * ahead of Redis small.
 */
export const BATCHES_IN_FLIGHT = 8;

/**
 * How long without an acknowledged write counts as a stall, and how long a flush may wait for the
 * store before it is logged as waiting: three flush intervals, and never less than two seconds more
 * than one (a slow but working Redis is not an outage).
 */
export function stallAfterMs(flushIntervalMs: number): number {
  return Math.max(3 * flushIntervalMs, flushIntervalMs + 2000);
}

/**
 * How late the timer that watches a flush's wait may fire before the lateness is taken for this
 * process's own event loop blocked (a long synchronous task) rather than a slow store.
 */
const BLOCKED_LOOP_MS = 1000;

/**
 * The most a stop waits between two tries of a last flush refused for a moment (see `isPassing`):
 * such a refusal passes in seconds, and the shutdown's allowance is a few of them.
 */
const STOP_RETRY_MS = 250;

/** A flush that wrote nothing. */
const failedFlush = (error: Error): FlushResult => ({
  ok: false,
  sent: 0,
  removed: 0,
  calls: 0,
  reaped: 0,
  error,
});

/** Options of a {@link MetricsFlusher}. */
export interface MetricsFlusherOptions {
  /** Where the series go: a `RedisMetricsStore`, or another `MetricsStore`. */
  store: MetricsStore;
  identity: ProcessIdentity;
  /** The prom-client registry whose metrics this process writes. */
  registry: Registry<RegistryContentType>;
  /** Milliseconds between background flushes. */
  intervalMs: number;
  /**
   * The multiprocess mode of each gauge. Gauges of a timed mode (`mostrecent`, `livemostrecent`) are
   * written with the time of the call that set them, and not at all while this process never set them.
   */
  gaugeModeOf: GaugeModeResolver;
  /**
   * Processes whose heartbeat is older than this many ms are ended by this one (`ttlSeconds` × 1000):
   * their gauges go, their counts stay. Leave it out to end none.
   */
  reapAfterMs?: number;
  /** Count the live processes (heartbeat within this many ms) at each write, for health. */
  livenessWindowMs?: number;
  /**
   * Run the registry's `collect` callbacks (prom-client's default metrics, yours) at most every this
   * many ms; a flush asked for with `collect: true` (a fresh scrape, a manual flush, the last one) runs
   * them anyway. Leave it out to run them at every flush.
   */
  collectIntervalMs?: number;
  /** Turns a failed write's error into one that names its cause (a client's connection history). */
  describeError?: (error: unknown) => unknown;
  /**
   * Whether a failed flush's error is a refusal that passes on its own in seconds (a Redis Cluster
   * slot being migrated, a failover under way: `isPassingRefusal`). The last flush of a {@link
   * MetricsFlusher.stop} that fails so is tried again (every interval or 250 ms, whichever is
   * shorter) until it is written or the caller gives up on it ({@link MetricsFlusher.abandon}); any
   * other failure ends the stop at once.
   */
  isPassing?: (error: unknown) => boolean;
  /**
   * Whether the store's client is on its way to a connection (reconnecting). Once a stop's last flush
   * was refused for a moment (see `isPassing`), a failure while it reconnects is tried again as well: a
   * failover closes the connections to the demoted master (Sentinel kills them), and the client's
   * reconnect is part of the refusal that passes.
   */
  isReconnecting?: () => boolean;
  /**
   * Why the store has not answered yet, as health names it (never a secret), for the line logged when
   * a flush has waited longer than {@link stallAfterMs}: the client's last connection error, say.
   * `undefined` when nothing is known (connected, and no answer).
   */
  describeWait?: () => string | undefined;
  /** Largest weight of one script call (see `write-batches.ts`); tests lower it. */
  batchWeight?: number;
  logger?: FlushLogger;
}

/** The outcome of one flush. A flush never throws: Redis trouble is reported here. */
export interface FlushResult {
  /** Whether everything that changed reached the store. */
  ok: boolean;
  /**
   * Series sent because they changed since the last acknowledged write (gauges and counter-like
   * series; summary windows and exemplars that went with them are not counted).
   */
  sent: number;
  /** Series removed because the registry no longer has them. */
  removed: number;
  /** Script calls this flush made. */
  calls: number;
  /** Heartbeat recorded by the store (its clock, ms), when the flush succeeded. */
  heartbeat?: number;
  /** Dead processes this flush ended. */
  reaped: number;
  /** What the store had lost and this flush repaired, if anything. */
  repaired?: string;
  /** What went wrong, when the flush failed. */
  error?: Error;
}

/** This process's last acknowledged write, for a scrape to check the store still holds it. */
export interface AcknowledgedWrite {
  processId: string;
  seq: number;
}

interface Attempt {
  seq: number;
  /** The write this one is sent on top of: the store applies it only when its markers hold that one. */
  expectedSeq: number;
  content: BatchContent;
  /** A repair's rebase: what the totals hold of this process, kept as its previous values or to load. */
  rebase?: { base: ReadonlyMap<string, string>; keepCounters: boolean; totalsKept: boolean };
  /** A load of the base: whether it loads all that was left to load. */
  loadsTheRest?: boolean;
  /**
   * A counting write: the ledger's record of each of `content.counters`, in order, so that its
   * acknowledgement needs no lookup by field. A record stays in the ledger while a write that sent it
   * is unanswered: records leave only when a delete of theirs is acknowledged, at `settle` (after a
   * fully acknowledged flush) or at `forget` (which drops unanswered writes too).
   */
  series?: readonly CounterSeries[] | undefined;
}

/**
 * Writes this process's prom-client registry to the store in the background: only the series that
 * changed since the last acknowledged write, as absolute values, with a heartbeat.
 *
 * The hot path never waits on Redis: `inc`, `set` and `observe` stay prom-client's in-memory operations,
 * and the flush reads the registry on its own timer, at a cost that grows with what changed (see
 * `registry-reader.ts`). Every write carries a sequence number that the store keeps in each key it
 * touches, so a lost reply, a lost key, or Redis going back in time is seen at the next write and
 * repaired exactly (see `repair-plan.ts`).
 */
export class MetricsFlusher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FlushResult> | undefined;
  private queued: Promise<FlushResult> | undefined;
  /** The last write number used; every attempt takes a new one. */
  private lastSeq = 0;
  /** The number of the last write the store acknowledged (0: none yet). */
  private ackedSeq = 0;
  /**
   * What the store holds of this process as of `ackedSeq`: counter-like series in the reader's
   * ledger (`ledger`, beside what the registry shows), gauges and the rest here.
   */
  private readonly ledger: CounterLedger;
  /** Gauges: value, and for timed gauges the local time of the call that set it. */
  private ackedGauges = new Map<string, { value: number; setAt?: number }>();
  private ackedMetadata = new Map<string, string>();
  /** Summary windows and exemplars as of `ackedSeq`: field -> stored text. */
  private ackedWindows = new Map<string, string>();
  private ackedExemplars = new Map<string, string>();
  private readonly reader: RegistryReader;
  /** Summary quantile windows and exemplars, read beside the registry reader (they are few). */
  private readonly windows: SummaryWindowReader;
  private readonly exemplars: ExemplarReader;
  /**
   * Gauge fields that may differ from what the store acknowledged: every gauge the reader touched
   * since the last flush that fully succeeded (the ledger lists counter-like series the same way).
   * Others are known to be the same, so a flush looks at no more.
   */
  private pending = new Set<string>();
  /** After the store's state was forgotten: every series must be compared (and so written). */
  private resendAll = false;
  /** This process's clock against the store's, measured from every reply. */
  private readonly clock = new ClockOffset();
  /** Writes sent since `ackedSeq` whose reply never came. */
  private unanswered: Attempt[] = [];
  /**
   * Writes sent whose outcome the flush has not settled yet (acknowledged, refused, or remembered in
   * `unanswered`): a shutdown that stops waiting for them hands them over as unanswered.
   */
  private readonly sending = new Set<Attempt>();
  /**
   * After a repair's rebase: what the totals hold of this process but its previous-values hash does
   * not yet. Until it is all loaded (in `base` mode), no write counts: a series not loaded yet would
   * be counted from zero, twice.
   */
  private pendingBase = new Map<string, string>();
  /** The latest repairs' loads (see {@link PreviousValuesLoad}), for a Redis that goes back into one. */
  private loads: PreviousValuesLoad[] = [];
  /** What an earlier flusher of this registry delivered, to load before the first write (see `startFrom`). */
  private takingOver: DeliveredCounts | undefined;
  private takeOverChecked = false;
  /** Set by {@link end}: the process left the store, and no flush may bring it back. */
  private ended = false;
  /** Set by {@link abandon}: not even a flush under way writes again. */
  private abandoned = false;
  /**
   * Whether the logs said flushing is in trouble, and how: `failed` (a flush failed) or `waiting` (a
   * flush waited longer than {@link stallAfterMs}); a success says it works again.
   */
  private failing: false | 'waiting' | 'failed' = false;
  /**
   * A failure of the flush that was running when the stop came, left for the stop's own flush to
   * tell; until that flush reports. {@link abandon} tells it when that flush has not.
   */
  private withheld: FlushResult | undefined;
  /**
   * Whether the last failed flush failed as the one before it had, so that its report logged nothing:
   * a stop whose flush failed so says what is lost, where the last line promised a retry. Decided when
   * that flush ends, not when the stop comes: a flush running then may work again first.
   */
  private failedAgain = false;
  /**
   * The causes the logs named since flushing last worked (numbers of ms left out), so that a flush
   * failing for another cause says so once: the first failure often meets only the lost connection,
   * and the reconnection then meets what lasts (a password set meanwhile, a user removed).
   */
  private readonly toldCauses = new Set<string>();
  /** Set by {@link stop} and {@link abandon}: a failed flush is no longer retried. */
  private stopping = false;
  /** Set while a stop tries its last flush again (see `isPassing`), with the wait between tries. */
  private retryingStop = false;
  private stopRetryWait: { timer: NodeJS.Timeout; done: () => void } | undefined;
  private last: FlushResult | undefined;
  private lastSuccessAt: number | undefined;
  private runningSinceAt: number | undefined;
  /** When `collect` callbacks last ran (local monotonic ms), and whether a caller asked for a run. */
  private collectedAt: number | undefined;
  private collectWanted = false;
  private lastLive: number | undefined;

  constructor(private readonly options: MetricsFlusherOptions) {
    this.reader = new RegistryReader(options.registry, options.gaugeModeOf);
    this.ledger = this.reader.view.counters;
    this.windows = new SummaryWindowReader(options.registry);
    this.exemplars = new ExemplarReader(options.registry);
  }

  /** Starts flushing every `intervalMs`. The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * Starts from what an earlier flusher of this registry delivered to the same store (see
   * `registry-handover.ts`): those values are loaded as this process's previous values, counting
   * nothing, before any write counts, when the store still holds them. Only before the first flush.
   */
  startFrom(delivered: DeliveredCounts): void {
    if (this.ackedSeq !== 0 || this.lastSeq !== 0 || this.running || deliversNothing(delivered)) {
      return;
    }
    this.takingOver = delivered;
  }

  /**
   * What this flusher delivered of its counter-like series: its acknowledged write and those whose
   * reply did not come (yet), each with what the totals hold as of it. A copy: a reply that comes
   * later changes nothing in it.
   */
  delivered(): DeliveredCounts | undefined {
    const unsettled = this.unanswered.length > 0 || this.sending.size > 0;
    // Nothing written yet: what it was to take over is still to be checked and loaded.
    if (this.ackedSeq === 0 && !unsettled) return this.takingOver;
    return {
      processId: this.options.identity.id,
      writes: this.history({ unsettled: true }),
      // None of its writes may have been applied: the totals then hold what it took over.
      before: this.ackedSeq === 0 ? this.takingOver : undefined,
      leftBehind: this.ledger.leftBehind(),
    };
  }

  /**
   * Loads what an earlier flusher delivered as this process's previous values, as of the write of it
   * the store holds: one whose reply that flusher never got (Redis stalled at its shutdown) may have
   * been applied, even after it stopped. Redis restarted empty or flushed in between holds none of
   * it, and the registry's counts are then counted whole. A store that went back to an earlier write
   * of it holds part of it, which is not known: going on from all of it never counts anything twice.
   */
  private async takeOver(delivered: DeliveredCounts): Promise<void> {
    const { store, logger } = this.options;
    // A failure leaves it to the next flush, before which nothing is written.
    let held = await store.heldWrite?.(delivered.processId);
    if (held !== undefined && delivered.writes.unanswered.length > 0) {
      // A write of that flusher still on its way (Redis stalled at its close) may be applied after
      // that answer: sent on another connection, or under CLIENT PAUSE WRITE, which answers reads.
      // Ending its process makes Redis refuse any such write (each expects markers the end removes),
      // and its tombstone keeps the write the totals hold. (A store that cannot tell is not asked.)
      await store.end(delivered.processId);
      held = await store.heldWrite!(delivered.processId);
    }
    if (held === null && delivered.before !== undefined) {
      // No write of that flusher arrived: the totals hold what it had taken over.
      this.takingOver = delivered.before;
      return this.takeOver(delivered.before);
    }
    // Kept while nothing is acknowledged: until then it is what the totals hold of this registry.
    this.takeOverChecked = true;
    // The totals hold what its series counted under the fields they left, as of its acknowledged
    // write, unless they went back to an earlier one.
    if (held !== null && (held === undefined || held >= delivered.writes.ackedSeq)) {
      this.ledger.inherit(delivered.leftBehind);
    }
    if (held === null) {
      this.takingOver = undefined;
      // Nothing acknowledged, and none of its unanswered writes held (or ever to be, once ended):
      // this flusher counts the registry once, and nothing Redis held was lost.
      if (delivered.writes.ackedSeq === 0) return;
      logger?.warn(
        `${store.description} no longer holds what this registry's earlier manager in this process delivered (process ${delivered.processId}; Redis restarted empty or was flushed): its counts are counted again.`,
      );
      return;
    }
    const values = heldValues(delivered.writes, held);
    if (values.size === 0) return;
    this.pendingBase = values;
    // As a repair's load at write 0: a Redis that goes back into it holds part of it.
    this.loads = [{ from: 0, base: new Map(values) }];
  }

  /**
   * Stops the timer and runs one last flush, so nothing counted before the stop is lost. A last flush
   * refused for a moment (see `isPassing`) is tried again every interval or 250 ms, whichever is
   * shorter, until it is written or {@link abandon} is called: what the process counted since its
   * last written flush would be lost.
   */
  async stop(): Promise<FlushResult> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    let result = await this.flush({ collect: true });
    while (!result.ok && !this.ended && this.passes(result.error)) {
      this.retryingStop = true;
      await new Promise<void>((done) => {
        this.stopRetryWait = { timer: setTimeout(done, this.stopRetryMs), done };
      });
      this.stopRetryWait = undefined;
      if (this.ended) break;
      result = await this.flush();
    }
    // Its tries ended on a failure that does not pass (the first was told to be tried again), or its
    // only try failed as the flushes before it did: the report of that failure says nothing, flushing
    // being in trouble already.
    if ((this.retryingStop || this.failedAgain) && !result.ok && !this.ended) {
      this.reportGivenUp(result.error);
    }
    this.retryingStop = false;
    return result;
  }

  /**
   * Flushes now. Calls made while a flush runs share one follow-up flush, which starts when the running
   * one ends, so a call always sees values counted before it. `collect: true` runs the registry's
   * `collect` callbacks whatever `collectIntervalMs` says (a scrape wants current values).
   */
  flush({ collect = false }: { collect?: boolean } = {}): Promise<FlushResult> {
    if (this.ended) return Promise.resolve(failedFlush(new Error(ENDED)));
    if (collect) this.collectWanted = true;
    if (!this.running) {
      this.running = this.flushOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.flush();
    });
    return this.queued;
  }

  /**
   * Ends this process in the store (graceful end): its gauges go, its counts stay in the totals.
   * Call after {@link stop}.
   */
  async end(): Promise<void> {
    // From now on nothing is written: a late write would find no markers and count everything again.
    this.ended = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.options.store.end(this.options.identity.id);
    this.forget();
    this.reader.close();
  }

  /**
   * Stops for good without ending the process in the store (when that cannot be done in time): no
   * timer, and no flush writes again. Its counts are in the totals; its gauges stay until reaped.
   * A failure left for the stop's own flush to tell, which has not ended, is logged now.
   * @param unanswered what to log when a flush still waits for the store (the shutdown gave up on it)
   *   and no line tells of it (nothing was left to tell, or what was left failed as the flushes before
   *   it had); a failure it meets later is then not logged again.
   */
  abandon(unanswered?: string): void {
    this.ended = true;
    this.abandoned = true;
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // The registry would otherwise keep the reader, and every series it read, for good.
    this.reader.close();
    // The stop's flush that was to tell of the failure before it has not ended (Redis stalled): the
    // process may exit before it does, and its failure, if it comes, is the shutdown's disconnect.
    const withheld = this.withheld;
    if (this.retryingStop) {
      // The refusal was told already; a try still under way fails by the shutdown's disconnect.
      if (this.stopRetryWait) clearTimeout(this.stopRetryWait.timer);
      this.stopRetryWait?.done();
      this.failing = 'failed';
      this.reportGivenUp();
    } else {
      if (withheld) this.report(withheld);
      // Told, unless it failed as the flushes before it had (its report says nothing then): the stop's
      // flush still waits, and the last line would say that counting goes on.
      const told = withheld !== undefined && !this.failedAgain;
      if (!told && unanswered !== undefined && this.running !== undefined) {
        // Its failure, if it comes, is the shutdown's own disconnect: nothing the user needs to hear.
        this.failing = 'failed';
        this.options.logger?.warn(unanswered);
      }
    }
  }

  /** Logs that a stop's last flush, tried again, is given up (`error`: the failure it ended on). */
  private reportGivenUp(error?: Error): void {
    const cause = error ? ` (${error.message})` : '';
    // A process none of whose writes was acknowledged (Redis out of reach since start-up) has no
    // "last" one; one that took over an earlier flusher's delivered counts has, and so has one whose
    // first flush failed after some of its batches were written (no flush succeeded, yet the totals
    // hold part of what it counted).
    const lost =
      this.ackedSeq === 0 && this.takingOver === undefined
        ? 'everything this process counted is lost (Redis acknowledged none of its writes)'
        : 'what this process counted since its last written flush is lost';
    this.options.logger?.warn(
      `Gave up flushing metrics to ${this.options.store.description} at shutdown${cause}: ${lost}.`,
    );
  }

  /** Whether a stop's failed last flush is tried again (see `isPassing` and `isReconnecting`). */
  private passes(error: Error | undefined): boolean {
    const { isPassing, isReconnecting } = this.options;
    if (isPassing?.(error)) return true;
    // Without a refusal first, a client that reconnects is a Redis out of reach: not waited for.
    return this.retryingStop && (isReconnecting?.() ?? false);
  }

  private get stopRetryMs(): number {
    return Math.min(this.options.intervalMs, STOP_RETRY_MS);
  }

  /** The result of the last flush, if any. */
  get lastResult(): FlushResult | undefined {
    return this.last;
  }

  /**
   * When the last successful flush ended, on this process's monotonic clock (`performance.now()`, ms),
   * if any: a step of the wall clock must not age it.
   */
  get lastSuccessTime(): number | undefined {
    return this.lastSuccessAt;
  }

  /**
   * When the flush that is running now started, on the monotonic clock (`performance.now()`, ms);
   * `undefined` when none runs.
   */
  get runningSince(): number | undefined {
    return this.runningSinceAt;
  }

  /**
   * What a write that waits long on the store most likely waits on ({@link MetricsStore.silenceCause});
   * `undefined` for a Redis store.
   */
  get silenceCause(): string | undefined {
    return this.options.store.silenceCause;
  }

  /** Live processes the store counted at the last successful write, if asked to count them. */
  get liveProcesses(): number | undefined {
    return this.lastLive;
  }

  /** The last write the store acknowledged; `undefined` before the first. */
  acknowledged(): AcknowledgedWrite | undefined {
    // An ended process is no longer in the store: a scrape has nothing of it to check.
    return this.ackedSeq === 0 || this.ended
      ? undefined
      : { processId: this.options.identity.id, seq: this.ackedSeq };
  }

  private async flushOnce(): Promise<FlushResult> {
    this.runningSinceAt = performance.now();
    // A client with an offline queue (a user's ioredis, by default) holds a write while Redis is away,
    // for up to minutes, where the module's own fails it at once: the logs say so all the same.
    const waitMs = stallAfterMs(this.options.intervalMs);
    let watch: NodeJS.Timeout;
    const watchFrom = (from: number) => {
      watch = setTimeout(() => {
        // Late by over a second: this process's own event loop was blocked, and the store's answer
        // may be waiting unread. The store gets the whole wait again rather than the blame.
        if (performance.now() - from - waitMs > BLOCKED_LOOP_MS) watchFrom(performance.now());
        else this.reportWaiting(waitMs);
      }, waitMs);
      watch.unref();
    };
    watchFrom(this.runningSinceAt);
    const result = await this.writeChanges().catch((failure: unknown): FlushResult => {
      const error = this.options.describeError?.(failure) ?? failure;
      return failedFlush(error instanceof Error ? error : new Error(String(error)));
    });
    clearTimeout(watch!);
    this.runningSinceAt = undefined;
    this.report(result);
    this.last = result;
    return result;
  }

  /** Whether this flush runs the `collect` callbacks: asked for, or due by `collectIntervalMs`. */
  private collectsNow(): boolean {
    const every = this.options.collectIntervalMs;
    const now = performance.now();
    const due =
      every === undefined || this.collectedAt === undefined || now - this.collectedAt >= every;
    if (!due && !this.collectWanted) return false;
    this.collectWanted = false;
    this.collectedAt = now;
    return true;
  }

  private async writeChanges(): Promise<FlushResult> {
    if (this.takingOver && !this.takeOverChecked) await this.takeOver(this.takingOver);
    // A whole metric listed anew (a first read, a reset) leaves `pending` incomplete: compare all.
    const collect = this.collectsNow();
    if (await this.reader.read(this.pending, { collect })) this.resendAll = true;
    this.windows.read();
    this.exemplars.read();
    const view = this.reader.view;
    const stats = { calls: 0, sent: 0, removed: 0 };
    let repaired: string | undefined;
    let reply: WriteReply | undefined;

    for (let mismatches = 0, again = 0; ;) {
      // A series back on a field whose previous value the store deleted: the totals still hold what it
      // counted there, loaded first as what they hold of this process (counting nothing).
      for (const [field, packed] of this.ledger.takeReturned()) this.pendingBase.set(field, packed);
      let sent: WriteReply | 'again';
      if (this.pendingBase.size > 0) {
        // A repair that did not finish loading what the totals hold: that first, counting nothing.
        const base = {
          ...noChanges(),
          counterFields: [...this.pendingBase.keys()],
          counterValues: [...this.pendingBase.values()],
        };
        sent = await this.sendAll(base, stats, { counterMode: 'base' });
      } else {
        const { changes, held, deletesLeft, sentSeries } = this.changesSince(view);
        sent = await this.sendAll(changes, stats, { counterMode: 'count', series: sentSeries });
        if (sent !== 'again' && sent.status === 'applied') {
          reply = sent;
          // Timed gauges wait for the first reply to know the store's clock, and removed series' deletes
          // for their last values to be acknowledged: one more round.
          if ((held && this.clock.known) || deletesLeft) continue;
          break;
        }
      }
      if (sent === 'again') {
        // Each time, part of the chain was applied: the store is moving, not lost.
        again += 1;
        if (again > MAX_SENDS_AGAIN) {
          throw new Error(
            'the store refused or failed part of every chain of writes this process sent',
          );
        }
        continue;
      }
      reply = sent;
      if (reply.status === 'applied') continue;
      mismatches += 1;
      const plan = planRepair(reply.markers!, this.history());
      if (plan.kind === 'adopt') {
        this.adopt(plan.seq);
        continue;
      }
      if (mismatches > 1) throw new Error('the store changed again while this process repaired it');
      repaired =
        reply.wrongType.length > 0
          ? `${plan.cause}; ${reply.wrongType.join(', ')} held another type and was replaced`
          : plan.cause;
      await this.repair({ ...plan, cause: repaired }, stats);
    }
    // Everything the reader touched now equals what the store acknowledged.
    this.pending.clear();
    this.ledger.settle();
    this.resendAll = false;
    this.lastSuccessAt = performance.now();
    if (reply.live !== undefined) this.lastLive = reply.live;
    if (reply.wrongType.length > 0) {
      this.options.logger?.warn(
        `${this.options.store.description}: ${reply.wrongType.join(', ')} held another type and was replaced.`,
      );
    }
    const reaped = await this.reap(reply.stale);
    return { ok: true, ...stats, heartbeat: reply.now, reaped, repaired };
  }

  /**
   * What differs between the registry and what the store acknowledged, among the fields that may
   * differ (all of them after the store's state was forgotten). `held`: timed gauges left for a later
   * round because the store's clock is not known yet.
   */
  private changesSince(view: RegistryView): {
    changes: SeriesChanges;
    held: boolean;
    deletesLeft: boolean;
    sentSeries: CounterSeries[];
  } {
    const changes = noChanges();
    // The record of each of `changes.counterFields`, in order.
    const sentSeries: CounterSeries[] = [];
    let held = false;
    let deletesLeft = false;
    for (const [name, readMeta] of view.metadata) {
      const meta = this.withPercentiles(name, readMeta);
      if (this.ackedMetadata.get(name) !== JSON.stringify(meta))
        changes.metadata.push([name, meta]);
    }
    // A metric that left the registry takes this process's declaration of its mode with it: a gauge
    // this process no longer writes must not keep its mode on the processes that still do. Should it
    // come back, its metadata is sent (and its mode declared) again.
    for (const name of this.ackedMetadata.keys()) {
      if (!view.metadata.has(name)) changes.withdrawnMetrics.push(name);
    }
    if (this.windowChanges(changes)) held = true;
    if (this.exemplarChanges(changes)) held = true;
    const gauge = (field: string, value: number) => {
      const setAt = view.gaugeTimes.get(field);
      const acked = this.ackedGauges.get(field);
      if (acked !== undefined && Object.is(acked.value, value) && acked.setAt === setAt) return;
      if (setAt === undefined) changes.gauges.push([field, { value }]);
      else if (!this.clock.known) held = true;
      else changes.gauges.push([field, { value, timestamp: this.clock.toStore(setAt), setAt }]);
    };
    const send = (series: CounterSeries, value: string) => {
      changes.counterFields.push(series.field);
      changes.counterValues.push(value);
      sentSeries.push(series);
    };
    // A shown value the store lacks is sent; a series no longer shown that the store holds is deleted
    // (so is what it held of a metric made again with another type: its series left the ledger).
    const counter = (series: CounterSeries) => {
      const { field, shown, acked, ends } = series;
      if (ends !== undefined) {
        // The last values of a removed series, then what shows its field again (sent even when it
        // equals what was acknowledged: the store holds the last value now). Its delete waits for a
        // round after they were acknowledged, so that a repair can tell which of them the totals hold.
        for (const value of ends) send(series, value);
        if (shown === undefined) deletesLeft = true;
        else send(series, shown);
        return;
      }
      if (shown !== undefined) {
        if (shown !== acked) send(series, shown);
      } else if (acked !== undefined) {
        changes.counterDeletes.push(field);
      }
    };
    if (this.resendAll) {
      for (const [field, value] of view.gauges) gauge(field, value);
      for (const field of this.ackedGauges.keys()) {
        if (!view.gauges.has(field)) changes.gaugeDeletes.push(field);
      }
      for (const series of this.ledger.series()) counter(series);
      return { changes, held, deletesLeft, sentSeries };
    }
    for (const field of this.pending) {
      const value = view.gauges.get(field);
      if (value !== undefined) gauge(field, value);
      else if (this.ackedGauges.has(field)) changes.gaugeDeletes.push(field);
    }
    for (const series of this.ledger.changed) counter(series);
    return { changes, held, deletesLeft, sentSeries };
  }

  /** A summary's metadata names the quantiles it serves. */
  private withPercentiles(name: string, meta: MetricMeta): MetricMeta {
    const percentiles = meta.type === 'summary' ? this.windows.percentiles.get(name) : undefined;
    return percentiles === undefined ? meta : { ...meta, percentiles };
  }

  /**
   * Adds the summary windows that differ from what the store acknowledged. A window that rotates is
   * stored with the time it stops being served, on the store's clock: returns true when one waits for
   * that clock to be known.
   */
  private windowChanges(changes: SeriesChanges): boolean {
    let held = false;
    for (const [field, window] of this.windows.windows) {
      if (window.stored === undefined) {
        if (window.expiresAt === undefined) {
          window.stored = encodeWindowDigest(Infinity, window.centroids);
        } else if (this.clock.known) {
          const expiresAt = this.clock.toStore(monotonicTimeOf(window.expiresAt))!;
          window.stored = encodeWindowDigest(Math.round(expiresAt), window.centroids);
        } else {
          held = true;
          continue;
        }
      }
      if (this.ackedWindows.get(field) !== window.stored) {
        changes.windows.push([field, window.stored]);
      }
    }
    for (const field of this.ackedWindows.keys()) {
      if (!this.windows.windows.has(field)) changes.windowDeletes.push(field);
    }
    return held;
  }

  /**
   * Adds the exemplars recorded since the store acknowledged them, timed on the store's clock:
   * returns true when some wait for that clock to be known.
   */
  private exemplarChanges(changes: SeriesChanges): boolean {
    let held = false;
    for (const [field, exemplar] of this.exemplars.exemplars) {
      if (exemplar.stored === undefined) {
        if (!this.clock.known) {
          held = true;
          continue;
        }
        exemplar.stored = encodeExemplar({
          timestamp: Math.round(this.clock.toStore(exemplar.recordedAt)!),
          value: exemplar.value,
          labels: exemplar.labels,
        });
      }
      if (this.ackedExemplars.get(field) !== exemplar.stored) {
        changes.exemplars.push([field, exemplar.stored]);
      }
    }
    // The shared hash keeps the exemplar of a series the registry dropped (as the totals keep its
    // count); this process forgets having sent it, or every series it ever dropped would stay here.
    // Checked only when more are remembered than held: nothing to walk while no series leaves.
    if (this.ackedExemplars.size > this.exemplars.exemplars.size) {
      for (const field of this.ackedExemplars.keys()) {
        if (!this.exemplars.exemplars.has(field)) this.ackedExemplars.delete(field);
      }
    }
    return held;
  }

  /**
   * Sends changes in bounded batches, a chain of writes each sent on top of the one before, up to
   * {@link BATCHES_IN_FLIGHT} before the first reply. The store applies a write only when its markers
   * hold the one before, so a batch that was not applied makes every later one a mismatch, and one
   * applied tells that all before it were. Stops sending at the first mismatch or error and lets what
   * is in flight answer; then:
   *
   * - a mismatch whose markers are at no write this process knows applied goes to the caller, which
   *   repairs (the writes after it cannot have been applied: each expects the one before);
   * - a mismatch at a write known applied only says an earlier batch did not arrive (or arrived late):
   *   when that batch's outcome is unknown, its error is thrown; else `'again'`: the caller sends what
   *   is left again;
   * - an error whose write a later one proved applied, with batches left unsent behind it (sending
   *   stopped at the error): `'again'` as well, so that they are sent before the flush succeeds;
   * - else, when a write's outcome stays unknown (an error, no later write applied), it is remembered
   *   and its error thrown: the next flush's markers tell.
   */
  private async sendAll(
    changes: SeriesChanges,
    stats: { calls: number; sent: number; removed: number },
    how: { counterMode: 'base' } | { counterMode: 'count'; series: readonly CounterSeries[] },
  ): Promise<WriteReply | 'again'> {
    const { counterMode } = how;
    // Made one by one as they are sent: a first flush of 100,000 series is 201 batches.
    const batches = splitIntoBatches(changes, this.options.batchWeight);
    let nextBatch = batches.next();
    const ackedBefore = this.ackedSeq;
    const chain: { attempt: Attempt; outcome: Promise<WriteReply | { error: unknown }> }[] = [];
    // Batches keep the order of `changes.counterFields`: a counting batch's records are the next ones.
    let offset = 0;
    let toLoad = this.pendingBase.size;
    let expectedSeq = this.ackedSeq;
    const launch = (content: BatchContent) => {
      const count = content.counters?.length ?? 0;
      const attempt: Attempt = {
        seq: (this.lastSeq += 1),
        expectedSeq,
        content: { ...content, counterMode },
      };
      if (how.counterMode === 'count') attempt.series = how.series.slice(offset, offset + count);
      else attempt.loadsTheRest = count >= toLoad;
      offset += count;
      toLoad -= count;
      expectedSeq = attempt.seq;
      this.sending.add(attempt);
      chain.push({ attempt, outcome: this.send(attempt).catch((error: unknown) => ({ error })) });
    };
    // Writes of the chain before this index are acknowledged.
    let known = 0;
    const acknowledgeThrough = (index: number) => {
      for (; known <= index; known += 1) {
        const { attempt } = chain[known];
        this.acknowledge(attempt);
        this.countSent(attempt, stats);
        // Nothing reads an acknowledged write's lines again: let them go before the chain ends.
        attempt.content = {};
        attempt.series = undefined;
      }
    };
    /** The index of the write of this chain all of `markers` are at, or -1. */
    const reachedBy = (markers: StoredMarkers | undefined) =>
      chain.findIndex(({ attempt }) => markersAtWrite(markers, attempt.seq));

    let reply: WriteReply | undefined;
    let refused: { index: number; reply: WriteReply } | undefined;
    const failed: { index: number; error: unknown }[] = [];
    let sent = 0;
    let answered = 0;
    do {
      const stop = refused !== undefined || failed.length > 0;
      while (!stop && !nextBatch.done && sent - answered < BATCHES_IN_FLIGHT) {
        launch(nextBatch.value);
        nextBatch = batches.next();
        sent += 1;
      }
      const index = answered;
      answered += 1;
      const result = await chain[index].outcome;
      if ('error' in result) {
        failed.push({ index, error: result.error });
        continue;
      }
      stats.calls += 1;
      // A write sent again after a broken connection is refused by its own markers when it was applied
      // the first time: its markers tell how far the chain got.
      const reached = result.status === 'applied' ? index : reachedBy(result.markers);
      if (reached >= known) acknowledgeThrough(reached);
      if (reached < index) refused ??= { index, reply: result };
      else reply = result.status === 'applied' ? result : { ...result, status: 'applied' };
    } while (answered < sent);
    for (const { attempt } of chain) this.sending.delete(attempt);

    // Writes that failed before what is known, or after a refused one, were applied or cannot be.
    const unknown = failed.filter(
      ({ index }) => index >= known && (refused === undefined || index < refused.index),
    );
    this.unanswered.push(...unknown.map(({ index }) => chain[index].attempt));
    if (refused !== undefined) {
      const markers = refused.reply.markers;
      // At a write known applied: the one the chain started from, or one of the chain.
      const explained = markersAtWrite(markers, ackedBefore) || reachedBy(markers) >= 0;
      if (!explained) return refused.reply;
    }
    if (unknown.length > 0) throw unknown[0].error;
    return refused === undefined && nextBatch.done === true ? reply! : 'again';
  }

  /** Counts the series an applied counting write sent and removed. */
  private countSent({ content }: Attempt, stats: { sent: number; removed: number }): void {
    if (content.counterMode !== 'count') return;
    stats.sent += (content.gauges?.length ?? 0) + (content.counters?.length ?? 0);
    stats.removed += (content.gaugeDeletes?.length ?? 0) + (content.counterDeletes?.length ?? 0);
  }

  /** One write. An error leaves its outcome unknown: the caller remembers it until markers tell. */
  private async send(attempt: Attempt): Promise<WriteReply> {
    const { store, identity, reapAfterMs, livenessWindowMs } = this.options;
    if (this.abandoned) throw new Error(ABANDONED);
    const batch: SeriesBatch = {
      ...attempt.content,
      expectedSeq: attempt.expectedSeq,
      seq: attempt.seq,
      staleAfterMs: reapAfterMs,
      livenessWindowMs,
    };
    const sentAt = performance.now();
    const reply = await store.write(identity, batch);
    this.clock.observe(sentAt, performance.now(), reply.now);
    return reply;
  }

  /** The store applied an attempt: what it sent is now what the store holds. */
  private acknowledge({ seq, content, series }: Attempt): void {
    this.ackedSeq = seq;
    this.unanswered = [];
    for (const [name, meta] of content.metadata ?? [])
      this.ackedMetadata.set(name, JSON.stringify(meta));
    for (const name of content.withdrawnMetrics ?? []) this.ackedMetadata.delete(name);
    for (const [field, { value, setAt }] of content.gauges ?? []) {
      this.ackedGauges.set(field, { value, setAt });
    }
    for (const field of content.gaugeDeletes ?? []) this.ackedGauges.delete(field);
    for (const [field, text] of content.windows ?? []) this.ackedWindows.set(field, text);
    for (const field of content.windowDeletes ?? []) this.ackedWindows.delete(field);
    for (const [field, text] of content.exemplars ?? []) this.ackedExemplars.set(field, text);
    // Loaded in base mode or written counting, the previous-values hash now holds these values.
    const counters = content.counters ?? [];
    if (series !== undefined) {
      for (let i = 0; i < counters.length; i += 1)
        this.ledger.acknowledgeSeries(series[i], counters[i][1]);
    } else {
      for (const [field, packed] of counters) {
        this.ledger.acknowledge(field, packed);
        if (content.counterMode === 'base') this.pendingBase.delete(field);
      }
    }
    if (content.counterMode === 'base' && this.pendingBase.size === 0) this.endLoad(seq);
    for (const field of content.counterDeletes ?? []) this.ledger.acknowledge(field, undefined);
  }

  /**
   * A repair's rebase was applied: the store's state starts over. The previous values it kept hold
   * what the totals hold; else that is to be loaded.
   */
  private acknowledgeRebase(seq: number, rebase: NonNullable<Attempt['rebase']>): void {
    this.forget(rebase.totalsKept);
    this.ledger.keepEndsAfter(rebase.base);
    this.ackedSeq = seq;
    this.endLoad(seq);
    if (rebase.keepCounters) {
      for (const [field, packed] of rebase.base) this.ledger.acknowledge(field, packed);
    } else if (rebase.base.size > 0) {
      this.pendingBase = new Map(rebase.base);
      // Only the latest load keeps its base: the others' write numbers are long past.
      for (const load of this.loads) load.base = undefined;
      this.loads = [...this.loads.slice(-(MAX_LOADS_KEPT - 1)), { from: seq, base: rebase.base }];
    }
  }

  /** The load under way, if any, ends at write `seq` (it finished, or a new rebase replaced it). */
  private endLoad(seq: number): void {
    const last = this.loads.at(-1);
    if (last && last.to === undefined) last.to = seq;
  }

  /**
   * An unanswered write turned out to be applied, and so was every write of the chain it was sent on
   * top of, back to the acknowledged one.
   */
  private adopt(seq: number): void {
    const chain: Attempt[] = [];
    for (let at = this.unanswered.find((a) => a.seq === seq); at;) {
      chain.unshift(at);
      if (at.rebase || at.expectedSeq === this.ackedSeq) break;
      const before = at.expectedSeq;
      at = this.unanswered.find((a) => a.seq === before);
    }
    for (const attempt of chain) {
      if (attempt.rebase) this.acknowledgeRebase(attempt.seq, attempt.rebase);
      else this.acknowledge(attempt);
    }
  }

  /**
   * What this process knows of its writes, for a repair; with `unsettled`, the writes in flight count
   * as unanswered, and it is a copy (for the handover, which outlives this flusher).
   */
  private history({ unsettled = false }: { unsettled?: boolean } = {}): WriteHistory {
    const ackedCounters = this.ledger.acknowledged();
    const unanswered = unsettled
      ? [
          ...this.unanswered,
          // Those of a flush still running; a write it acknowledged already is not.
          ...[...this.sending].filter((a) => a.seq > this.ackedSeq && !this.unanswered.includes(a)),
        ]
      : this.unanswered;
    return {
      ackedSeq: this.ackedSeq,
      // What the totals hold of this process: its previous values, and the base not loaded yet.
      acked:
        this.pendingBase.size === 0
          ? ackedCounters
          : new Map([...ackedCounters, ...this.pendingBase]),
      ackedComplete: this.pendingBase.size === 0,
      loads: unsettled ? this.loads.map((load) => ({ ...load })) : this.loads,
      unanswered: unanswered.map(({ seq, expectedSeq, content, rebase, loadsTheRest }) =>
        rebase
          ? {
              // A rebase resets what the store holds: the totals then hold its base.
              seq,
              counters: rebase.base,
              replaces: true,
              complete: rebase.keepCounters || rebase.base.size === 0,
            }
          : {
              seq,
              after: expectedSeq,
              counters: new Map(content.counters ?? []),
              deletes: content.counterDeletes,
              // A counting write is sent only once nothing is left to load.
              complete: content.counterMode !== 'base' || loadsTheRest === true,
            },
      ),
    };
  }

  /**
   * Brings the store back in line: a rebase call resets this process's markers (and its previous
   * counter values unless they still match the totals), the values the totals hold of it are loaded
   * when needed, and the caller then writes every series again, adding only what the totals miss.
   */
  private async repair(
    plan: Extract<RepairPlan, { kind: 'rebase' }>,
    stats: { calls: number; sent: number; removed: number },
  ): Promise<void> {
    const { store, identity, logger } = this.options;
    // Before the warning: an abandoned flusher repairs nothing, and a write of it refused is most
    // often one the next manager of its registry fenced off by ending its process (see takeOver),
    // where Redis lost nothing.
    if (this.abandoned) throw new Error(ABANDONED);
    logger?.warn(
      `${store.description} lost data of process ${identity.id}: ${plan.cause}. ${
        plan.exact ? 'Repairing it exactly' : 'Repairing it as well as it can'
      } by writing its series again.`,
    );
    const attempt: Attempt = {
      seq: (this.lastSeq += 1),
      // A rebase is applied whatever the markers hold.
      expectedSeq: this.ackedSeq,
      content: {},
      rebase: { base: plan.base, keepCounters: plan.keepCounters, totalsKept: plan.totalsKept },
    };
    const sentAt = performance.now();
    let reply: WriteReply;
    this.sending.add(attempt);
    try {
      reply = await store.rebase(identity, {
        seq: attempt.seq,
        keepCounters: plan.keepCounters,
        markLost: plan.markLost,
      });
    } catch (error) {
      // Applied or not, the next write's markers tell; if applied, the base is loaded then.
      this.unanswered.push(attempt);
      throw error;
    } finally {
      this.sending.delete(attempt);
    }
    this.clock.observe(sentAt, performance.now(), reply.now);
    stats.calls += 1;
    // The caller's next round loads the base (if any) before writing anything that counts.
    this.acknowledgeRebase(attempt.seq, attempt.rebase!);
  }

  /**
   * Forgets what the store acknowledged, so the next write sends every series. `totalsKept`: the totals
   * still hold what series counted under the fields they left, loaded on their return still (a value
   * taken to be loaded and not loaded yet is in the repair's base: it was in what the totals hold).
   */
  private forget(totalsKept = false): void {
    this.pendingBase = new Map();
    this.ledger.forgetAcknowledged(totalsKept);
    this.ackedGauges.clear();
    this.ackedMetadata.clear();
    this.ackedWindows.clear();
    this.ackedExemplars.clear();
    this.unanswered = [];
    this.resendAll = true;
  }

  /** Ends processes whose heartbeat is older than the TTL; each end re-checks that atomically. */
  private async reap(stale: string[]): Promise<number> {
    const { store, identity, reapAfterMs, logger } = this.options;
    let reaped = 0;
    for (const processId of stale) {
      if (processId === identity.id || reapAfterMs === undefined) continue;
      if ((await store.end(processId, reapAfterMs)) === 'ended') {
        reaped += 1;
        logger?.log(
          `Ended dead process ${processId} (no heartbeat for ${reapAfterMs} ms); its counts stay.`,
        );
      }
    }
    return reaped;
  }

  /**
   * Logs when flushing starts failing and when it recovers, not on every failed tick. A first failure
   * once stopping (the last flush, or one that ends after the shutdown gave up on it) is not retried.
   * A flush that was running when the stop came is followed by the stop's own flush: that one tells
   * (or {@link abandon}, when the shutdown gives up on that flush before it ends).
   */
  private report(result: FlushResult): void {
    const logger = this.options.logger;
    this.withheld = undefined;
    this.failedAgain = !result.ok && this.failing === 'failed';
    if (!result.ok && this.stopping && this.queued !== undefined && !this.ended) {
      this.withheld = result;
      return;
    }
    if (!result.ok && this.failing === 'failed' && !this.stopping) {
      this.reportChangedCause(result.error);
      return;
    }
    if (!result.ok && this.failing !== 'failed') {
      const waited = this.failing === 'waiting';
      this.failing = 'failed';
      // The line about the wait named the trouble already; a stop's "not retried" is news.
      if (waited && !this.stopping) return;
      this.toldCauses.add(causeKey(result.error?.message));
      const where = this.options.store.description;
      logger?.warn(
        !this.stopping
          ? `Flushing metrics to ${where} failed; counting goes on in memory and is retried every ${this.options.intervalMs} ms: ${result.error?.message}`
          : this.passes(result.error) && !this.ended
            ? `Flushing metrics to ${where} failed while this process stopped flushing; it is tried again every ${this.stopRetryMs} ms until it is written or the shutdown gives up: ${result.error?.message}`
            : `Flushing metrics to ${where} failed while this process stopped flushing, and is not retried: ${result.error?.message}`,
      );
    } else if (result.ok && this.failing) {
      this.failing = false;
      this.toldCauses.clear();
      logger?.log(`Flushing metrics to ${this.options.store.description} works again.`);
    }
  }

  /** Logs once each cause of a failure that the lines since flushing last worked did not name. */
  private reportChangedCause(error: Error | undefined): void {
    const key = causeKey(error?.message);
    if (this.toldCauses.has(key)) return;
    this.toldCauses.add(key);
    this.options.logger?.warn(
      `Flushing metrics to ${this.options.store.description} still fails, now because: ${error?.message}; counting goes on in memory and is retried every ${this.options.intervalMs} ms`,
    );
  }

  /**
   * Logs once that a flush has waited `waitMs` for the store, while it still waits: later flushes
   * share one follow-up behind it (see {@link flush}), so nothing piles up. Not once stopping: the
   * shutdown's own lines tell what became of the last flush.
   */
  private reportWaiting(waitMs: number): void {
    if (this.failing || this.stopping || this.runningSinceAt === undefined) return;
    this.failing = 'waiting';
    const cause =
      this.options.describeWait?.() ??
      `no answer yet (${this.options.store.silenceCause ?? 'Redis slow, paused or out of reach'})`;
    this.toldCauses.add(causeKey(cause));
    this.options.logger?.warn(
      `Flushing metrics to ${this.options.store.description} has waited over ${waitMs} ms for an answer; counting goes on in memory, and one flush at a time waits until it comes: ${cause}`,
    );
  }
}

/**
 * What the totals hold of an earlier flusher's counter-like series, whose write `held` the store
 * holds (`undefined`: a store that cannot tell). A write it does not know (the store went back in
 * time), or a store that cannot tell: the latest values the totals may hold, so that nothing is
 * counted twice.
 */
function heldValues(writes: WriteHistory, held: number | undefined): Map<string, string> {
  const known = held === undefined ? undefined : valuesAtWrite(writes, held);
  if (known !== undefined) return known;
  // A store that went back in time did not apply the unanswered writes either: each expects the one
  // before it, which the store no longer holds.
  const latest = held === undefined ? writes.unanswered.map(({ seq }) => seq) : [];
  for (const seq of latest.sort((a, b) => b - a)) {
    const values = valuesAtWrite(writes, seq);
    if (values !== undefined) return values;
  }
  return new Map(writes.acked);
}

/**
 * A failure's cause as {@link MetricsFlusher} compares them: its numbers of ms left out, and the
 * client's status while it reconnects (`connect`, `reconnecting`: one cause, met at two moments).
 */
function causeKey(message: string | undefined): string {
  return (message ?? '')
    .replace(/\d+ ms\b/g, '# ms')
    .replace(/ \((?:connect|connecting|reconnecting|wait|close)\)/g, '');
}

function noChanges(): SeriesChanges {
  return {
    metadata: [],
    withdrawnMetrics: [],
    gauges: [],
    gaugeDeletes: [],
    counterFields: [],
    counterValues: [],
    counterDeletes: [],
    windows: [],
    windowDeletes: [],
    exemplars: [],
  };
}
