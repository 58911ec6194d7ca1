import type { ProcessIdentity } from './process-identity.js';
import type { SeriesWrite, SeriesWriteResult } from './write-series.js';

/**
 * Everything stored under one prefix, as flat lists: what the read script returns, and what any other
 * store returns in the same shape so one parser and one merge serve them all.
 * `[now ms, keys of the wrong type, [id, heartbeat, ...], info pairs, metadata pairs, archive pairs,
 *   value pairs of each process in index order...]`
 */
export type RawPrefixReply = [
  string,
  string[],
  string[],
  string[],
  string[],
  string[],
  ...string[][],
];

/** The processes of a prefix with their heartbeats, and the store's clock. */
export interface ProcessHeartbeats {
  now: number;
  heartbeats: Map<string, number>;
}

/**
 * Where processes keep their series: Redis ({@link RedisMetricsStore}), or the memory of a cluster
 * primary that its workers reach over IPC (the sample's embedded mode). Every operation is atomic.
 */
export interface MetricsStore {
  /** Writes series of one process and refreshes its heartbeat (the write script's semantics). */
  write(
    identity: Pick<ProcessIdentity, 'id' | 'info'>,
    write: SeriesWrite,
  ): Promise<SeriesWriteResult>;
  /** Folds a process into the archive (the fold script's semantics); -1 when it was alive after all. */
  fold(processId: string, staleAfterMs?: number): Promise<number>;
  /** Reads everything a scrape needs, at one moment. */
  read(): Promise<RawPrefixReply>;
  /** The processes and their heartbeats, cheaply (for health and clean-up). */
  heartbeats(): Promise<ProcessHeartbeats>;
  /** A short description for logs: where the metrics go. Never a secret. */
  readonly description: string;
}
