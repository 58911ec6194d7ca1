import type { MetricMeta, PrefixKeys } from './keys.js';
import { withScripts, type RedisClient } from './lua-scripts.js';
import type { ProcessIdentity } from './process-identity.js';
import { encodeNumber } from './stored-value.js';

/** One atomic write of a process's series. */
export interface SeriesWrite {
  /** Series field -> new value. */
  series: Iterable<[string, number]>;
  /** Metric name -> metadata, written when it differs from what is stored. */
  metadata?: Iterable<[string, MetricMeta]>;
  /** Series fields to remove from this process. */
  deletes?: Iterable<string>;
  /** Timestamp for the written series, ms; default Redis server time. */
  timestamp?: number;
  /**
   * The writer has written before and expects to be in the index. When it is not, nothing is written
   * and {@link SeriesWriteResult.reaped} or {@link SeriesWriteResult.lost} says why.
   */
  expectRegistered?: boolean;
  /** Also report up to 16 processes whose heartbeat is older than this many ms. */
  staleAfterMs?: number;
}

/** What a write did. */
export interface SeriesWriteResult {
  /** Series whose stored value changed. */
  written: number;
  /** The heartbeat it recorded: Redis server time, ms since the epoch. */
  heartbeat: number;
  /** The writer had been reaped as dead; nothing was written. */
  reaped: boolean;
  /** The writer expected to be registered but Redis has no trace of it (data lost); nothing was written. */
  lost: boolean;
  /** Ids of processes whose heartbeat is older than `staleAfterMs` (empty when not asked). */
  stale: string[];
}

/**
 * Writes series of one process in a single script call (one round trip, atomic) and refreshes the
 * process's heartbeat and index entry.
 */
export async function writeSeries(
  client: RedisClient,
  keys: PrefixKeys,
  identity: Pick<ProcessIdentity, 'id' | 'info'>,
  write: SeriesWrite,
): Promise<SeriesWriteResult> {
  const metaArgs: string[] = [];
  for (const [name, meta] of write.metadata ?? []) metaArgs.push(name, JSON.stringify(meta));
  const deleteArgs = [...(write.deletes ?? [])];
  const seriesArgs: string[] = [];
  for (const [field, value] of write.series) seriesArgs.push(field, encodeNumber(value));

  const [written, heartbeat, stale] = await withScripts(client).nrmWriteSeries(
    keys.processes,
    keys.processInfo,
    keys.values(identity.id),
    keys.metadata,
    keys.reaped,
    identity.id,
    JSON.stringify(identity.info()),
    write.timestamp === undefined ? '' : encodeNumber(write.timestamp),
    metaArgs.length / 2,
    deleteArgs.length,
    write.expectRegistered ? '1' : '0',
    write.staleAfterMs === undefined ? '' : String(write.staleAfterMs),
    // Arrays, not spreads: ioredis flattens them, and a spread of 200,000 arguments overflows the stack.
    metaArgs,
    deleteArgs,
    seriesArgs,
  );
  return {
    written: Math.max(written, 0),
    heartbeat: Number(heartbeat),
    reaped: written === -1,
    lost: written === -2,
    stale,
  };
}

/**
 * Folds a process into the archive and removes its keys, atomically. With `staleAfterMs` it folds only
 * a process whose heartbeat is still older than that when the script runs (safe against a process that
 * came back between the look and the fold).
 * @returns the number of series folded into the archive (0 when the process was already gone), or -1
 *   when the process turned out to be alive.
 */
export async function foldProcess(
  client: RedisClient,
  keys: PrefixKeys,
  processId: string,
  staleAfterMs?: number,
): Promise<number> {
  return withScripts(client).nrmFoldProcess(
    keys.processes,
    keys.processInfo,
    keys.values(processId),
    keys.metadata,
    keys.archive,
    keys.reaped,
    processId,
    staleAfterMs === undefined ? '' : String(staleAfterMs),
  );
}
