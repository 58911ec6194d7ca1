import type { Labels, MetricMeta, ProcessInfo } from './keys.js';
import type { ProcessIdentity } from './process-identity.js';

/** Who writes: the id of a process and what is recorded about it. */
export type WriterIdentity = Pick<ProcessIdentity, 'id' | 'info'>;

/**
 * One atomic write of a process (one script call with Redis), applied only when every key the process
 * relies on still holds its write number `expectedSeq`. A flush sends one or several, each bounded in
 * size so that no call stops Redis for long.
 */
export interface SeriesBatch {
  /** The number of the process's last applied write (0 before its first). */
  expectedSeq: number;
  /** The number of this write: unique per attempt, so a lost reply can be told apart later. */
  seq: number;
  /** Metric name -> metadata to store. */
  metadata?: [string, MetricMeta][];
  /**
   * Metrics that left the process's registry since it wrote their metadata: the modes it declared for
   * them (see `MARKER.gaugeMode`) go from its gauges hash, so that it no longer takes part in choosing
   * the mode their other writers are merged in. The shared metadata stays: other processes may still
   * write them.
   */
  withdrawnMetrics?: string[];
  /**
   * Gauge series field -> value, and the time it was set (Redis clock, ms; default: the write's).
   * `setAt` is the writer's own bookkeeping (the time on its local clock); stores ignore it.
   */
  gauges?: [string, { value: number; timestamp?: number; setAt?: number }][];
  /** Gauge series the process no longer has. */
  gaugeDeletes?: string[];
  /**
   * Summary series field -> the stored text of its current quantile window (see `window-digest.ts`),
   * kept in the process's gauges hash beside its gauges: per process, gone when the process ends.
   */
  windows?: [string, string][];
  /** Summary series whose window is empty now, or that the process no longer has. */
  windowDeletes?: string[];
  /**
   * Exemplar field -> stored exemplar (see `stored-exemplar.ts`), for the shared exemplars: the store
   * keeps, per field, the exemplar with the latest timestamp any process sent.
   */
  exemplars?: [string, string][];
  /**
   * Counter-like series field -> its absolute packed value (see `packed-values.ts`). The store adds
   * to the totals the difference from what the process wrote before.
   */
  counters?: [string, string][];
  /**
   * `base`: only record `counters` as what the process wrote before, adding nothing to the totals (a
   * repair loads what the totals already hold of the process this way). Default `count`.
   */
  counterMode?: 'count' | 'base';
  /** Counter-like series the process no longer has: should they come back, they count from zero. */
  counterDeletes?: string[];
  /** Also report up to 16 processes whose heartbeat is older than this many ms. */
  staleAfterMs?: number;
  /** Also count the processes whose heartbeat is younger than this many ms (for health). */
  livenessWindowMs?: number;
}

/**
 * The write number each key of a process holds (`null`: none). They all equal the process's last
 * write unless Redis lost, rolled back or was told to delete something.
 */
export interface StoredMarkers {
  /** In the process's previous counter values. */
  counters: number | null;
  /** In the process's gauges. */
  gauges: number | null;
  /** In the shared totals: the last write of the process the totals include. */
  totals: number | null;
  /** In the shared metadata. */
  metadata: number | null;
  /** In the tombstone of an ended process: the last write of it the totals include (0: none). */
  ended: number | null;
}

/** What a store did with a write. */
export interface WriteReply {
  /** `applied`, or `mismatch`: nothing was written because the markers differ from `expectedSeq`. */
  status: 'applied' | 'mismatch';
  /** The store's clock (Redis server time, ms). */
  now: number;
  /** Ids of processes whose heartbeat is older than `staleAfterMs` (empty when not asked). */
  stale: string[];
  /** Keys of this prefix that held the wrong type and were deleted. */
  wrongType: string[];
  /** The markers found, on a mismatch. */
  markers?: StoredMarkers;
  /** Processes whose heartbeat is within `livenessWindowMs`, when asked. */
  live?: number;
}

/** The start of a repair (see the rebase script). */
export interface RebaseRequest {
  /** The write number every key of the process holds afterwards. */
  seq: number;
  /** Keep the process's previous counter values (they match what the totals hold of it). */
  keepCounters: boolean;
  /** Record in the totals that Redis lost data, so scrapes wait until live processes wrote again. */
  markLost: boolean;
}

/**
 * Everything a scrape reads, as the store's raw strings so that one parser serves every store.
 * Counter-like series come from the totals; per-process state other than gauges is never read.
 */
export interface StoreSnapshot {
  /** The store's clock at the read (ms). */
  now: number;
  /** Keys of the wrong type, read as empty. */
  wrongType: string[];
  /**
   * The totals key is among them: it holds another type than a hash (something other than this
   * module wrote it), so the totals were read as empty.
   */
  totalsWrongType?: boolean;
  /** `[id, heartbeat ms, ...]`, oldest heartbeat first. */
  processes: string[];
  /** Process id -> JSON {@link ProcessInfo}, as pairs. */
  info: string[];
  /** Metric name -> JSON {@link MetricMeta} (and markers), as pairs. */
  metadata: string[];
  /** Series field -> packed total (and markers), as pairs. */
  totals: string[];
  /**
   * For each process of `processes`, in order: gauge field -> `"value timestamp"`, summary field -> its
   * window (and markers).
   */
  gauges: string[][];
  /** Exemplar field -> stored exemplar, as pairs; only when the read asked for them. */
  exemplars?: string[];
  /**
   * What the read got only part of: a hash read in several calls that was deleted (evicted, expired)
   * before the read ended. `totals`: the totals; `gauges`: ids of the processes whose gauges hash (a
   * process that ended meanwhile, which deletes its gauges, is left out of the snapshot instead).
   */
  partial?: { totals: boolean; gauges: string[] };
  /**
   * Hashes that hold fields whose name or value is not valid UTF-8, left out of the snapshot (no
   * writer of this module writes one): the key and how many fields.
   */
  notUtf8?: [key: string, fields: number][];
}

/** What a read should include beyond what every scrape needs. */
export interface ReadOptions {
  /** The shared exemplars (an OpenMetrics scrape serves them; the text format cannot). */
  exemplars?: boolean;
}

/** One indexed process. */
export interface IndexedProcess {
  id: string;
  /** Last heartbeat, the store's clock (ms). */
  heartbeat: number;
  /** What it recorded about itself; `undefined` when missing or unreadable. */
  info: ProcessInfo | undefined;
}

/** The processes of a prefix, and the store's clock. */
export interface ProcessIndex {
  now: number;
  processes: IndexedProcess[];
}

/**
 * Where processes keep their series: Redis ({@link RedisMetricsStore}), or the memory of a cluster
 * primary that its workers reach over IPC (the sample's embedded mode). Every operation but `read` is
 * atomic; `read` is a few bounded calls.
 */
export interface MetricsStore {
  /** Applies one write of a process (see {@link SeriesBatch}). */
  write(identity: WriterIdentity, batch: SeriesBatch): Promise<WriteReply>;
  /** Starts a repair of a process (see {@link RebaseRequest}). */
  rebase(identity: WriterIdentity, request: RebaseRequest): Promise<WriteReply>;
  /**
   * Ends a process: its gauges and state go, its counts stay in the totals. Its tombstone (kept a
   * day) makes the store refuse any later write of it until a repair's rebase, its first included.
   * @param staleAfterMs end it only if its heartbeat is older than this.
   * @returns `ended`, `absent` (it was not indexed), or `alive` (it wrote within `staleAfterMs`).
   */
  end(processId: string, staleAfterMs?: number): Promise<'ended' | 'absent' | 'alive'>;
  /** Reads everything a scrape needs, in bounded calls. */
  read(options?: ReadOptions): Promise<StoreSnapshot>;
  /** The indexed processes with their heartbeats and info, cheaply (health, clean-up, markProcessDead). */
  processIndex(): Promise<ProcessIndex>;
  /**
   * The number of a process's last write the totals hold: its totals marker while it is indexed, its
   * tombstone once it ended (kept a day); `null` when the totals hold nothing of it (none of its
   * writes arrived before it ended, or Redis restarted empty or was flushed since). A next manager of
   * the same registry in this process asks it which of the writes an earlier one handed over
   * (acknowledged, or unanswered at its shutdown) the totals hold before going on from it; a store
   * without it is trusted, and so is `undefined`: the store cannot tell (an `IpcMetricsStore` whose
   * primary is of an earlier version, or serves a store without it).
   */
  heldWrite?(processId: string): Promise<number | null | undefined>;
  /**
   * Deletes the counts of a metric's series from the shared totals, with their exemplars: every series
   * of the metric, or the one of `labels` (every label, default labels included, as a scrape shows
   * it). A process that still counts a series goes on from its own count at the time, so the series
   * comes back counting from about zero, which Prometheus reads as a counter reset. Gauges and summary
   * quantile windows are the processes' own and stay. A store without it cannot delete counts.
   * @returns how many series were deleted.
   */
  deleteSeries?(metricName: string, labels?: Labels): Promise<number>;
  /** A short description for logs: where the metrics go. Never a secret. */
  readonly description: string;
  /**
   * What a write that has waited long for this store's answer most likely waits on, for the line a
   * flush logs then (`no answer yet (...)`). Without it the line names Redis, as for a Redis store.
   */
  readonly silenceCause?: string;
  /**
   * A new channel for fresh scrapes, for a store that has one of its own (an `IpcMetricsStore`: the
   * cluster primary relays a request to every worker). The module uses it for a store passed as
   * `store`; with a Redis client (its own or `client`) it uses Redis pub/sub. A store passed without
   * this method has no fresh scrapes.
   */
  flushRequests?(): FlushRequestChannel;
}

/** How many processes a fresh-scrape request reached, and how many had flushed when it stopped waiting. */
export interface FlushRequestOutcome {
  asked: number;
  answered: number;
}

/**
 * The way a scrape asks every process to flush now (a fresh scrape), and a process hears it: Redis
 * pub/sub, or the cluster primary over IPC for an `IpcMetricsStore`.
 */
export interface FlushRequestChannel {
  /** Listens for requests; `flush` writes this process now. */
  listen(flush: () => Promise<unknown>): Promise<void>;
  /**
   * Asks every listening process to flush, and waits until all answered or `waitMs` passed. Never
   * rejects: a request that cannot be sent, or one made before `listen`, is answered by nobody.
   * `liveProcesses` (this one included) is how many processes the store last counted live: a channel
   * that cannot count who got the request waits for that many answers.
   */
  request(waitMs: number, liveProcesses?: number): Promise<FlushRequestOutcome>;
  /** Stops listening. */
  close(): void;
}
