import type { StoredMarkers } from './metrics-store.js';

/** What a process knows of its own writes when a store reports that its markers differ. */
export interface WriteHistory {
  /** The number of its last write the store acknowledged (0: none). */
  ackedSeq: number;
  /** What the totals hold of its counter-like series as of that write: field -> packed absolute value. */
  acked: ReadonlyMap<string, string>;
  /**
   * Whether its previous-values hash held all of `acked` as of that write (false while a repair's
   * load of what the totals hold is unfinished).
   */
  ackedComplete: boolean;
  /** Writes sent since, whose reply never came: each may or may not have been applied. */
  unanswered: readonly UnansweredWrite[];
  /** The repairs' loads of its previous values, most recent last. */
  loads?: readonly PreviousValuesLoad[];
}

/**
 * A repair's load of a process's previous values: a rebase that dropped them, then batches that load
 * what the totals hold, each its own call. A Redis that goes back to a write in between (a snapshot or
 * a lagging replica) holds only part of them, with markers that look whole.
 */
export interface PreviousValuesLoad {
  /** The rebase's write number. */
  from: number;
  /** The number of the batch that finished the load; absent while it is unfinished. */
  to?: number;
  /** What the totals held of the process all along the load (kept for the latest load only). */
  base?: ReadonlyMap<string, string>;
}

/** A write whose reply never came. */
export interface UnansweredWrite {
  seq: number;
  /**
   * The write it was sent on top of: the store applies a write only when its markers hold this one.
   * Absent: the acknowledged write (`ackedSeq`). A flush sends its batches in a chain, each on top of
   * the one before, so one applied means every one before it in the chain was applied too.
   */
  after?: number;
  /** The counter-like values it wrote, over `acked`; with `replaces`, all the totals hold after it. */
  counters: ReadonlyMap<string, string>;
  /** Fields whose previous values it deleted (series the process no longer has). */
  deletes?: readonly string[];
  /** A rebase: after it the totals hold `counters` and nothing of `acked` beyond them. */
  replaces?: boolean;
  /** Whether, had it been applied, the previous-values hash would hold all the totals hold. */
  complete: boolean;
}

/** How to bring the store back in line with what the process holds. */
export type RepairPlan =
  | {
      /** A write whose reply was lost had been applied: take it as acknowledged and go on. */
      kind: 'adopt';
      seq: number;
    }
  | {
      kind: 'rebase';
      /** The store's previous counter values of the process match what its totals hold: keep them. */
      keepCounters: boolean;
      /**
       * What the totals hold of the process (empty: nothing, or not known): its previous values as
       * kept, or to be loaded as them when they are not kept.
       */
      base: ReadonlyMap<string, string>;
      /** The totals or metadata lost something: scrapes should wait until live processes wrote again. */
      markLost: boolean;
      /** Whether the totals end exactly right (false only when Redis lost data in two ways at once). */
      exact: boolean;
      /**
       * Whether the totals still hold every write of the process it knows was applied: what its series
       * counted under fields whose previous values it deleted is still in them.
       */
      totalsKept: boolean;
      /** One line for the log: what happened. */
      cause: string;
    };

/**
 * Whether the markers a store found are all at write `seq`, as a whole write leaves them; at write 0
 * (none yet), whether the store holds no marker of the process at all.
 */
export function markersAtWrite(markers: StoredMarkers | undefined, seq: number): boolean {
  const at = seq === 0 ? null : seq;
  return (
    markers !== undefined &&
    markers.counters === at &&
    markers.gauges === at &&
    markers.totals === at &&
    markers.metadata === at &&
    (at !== null || markers.ended === null)
  );
}

/** The repair's load that write `seq` was part of, if any. */
function loadAtWrite(
  loads: readonly PreviousValuesLoad[],
  seq: number,
): PreviousValuesLoad | undefined {
  return loads.find((load) => seq >= load.from && (load.to === undefined || seq < load.to));
}

/**
 * What the totals hold of a process's counter-like series once its write `seq` was applied (and no
 * later one): field -> packed absolute value, a copy; `undefined` when the process does not know it
 * (a write before its acknowledged one, outside its loads, or on top of such a write).
 */
export function valuesAtWrite(history: WriteHistory, seq: number): Map<string, string> | undefined {
  const { ackedSeq, acked, unanswered, loads = [] } = history;
  if (seq === ackedSeq) return new Map(acked);
  const attempt = unanswered.find((a) => a.seq === seq);
  if (!attempt) {
    // Half-way through a load the totals held its base (a load counts nothing).
    const base = loadAtWrite(loads, seq)?.base;
    return base && new Map(base);
  }
  if (attempt.replaces) return new Map(attempt.counters);
  const before =
    attempt.after === undefined || attempt.after === ackedSeq
      ? acked
      : valuesAtWrite(history, attempt.after);
  // On top of a write this process does not know the values of: not known either.
  if (before === undefined) return undefined;
  const values = new Map([...before, ...attempt.counters]);
  for (const field of attempt.deletes ?? []) values.delete(field);
  return values;
}

/**
 * Decides a repair from the markers a store found. Each key the process writes carries the number of
 * its last write applied to it; comparing them with what the process itself acknowledged tells a lost
 * reply, a key deleted or evicted, Redis restarted empty, restored from an older snapshot or a lagging
 * replica promoted, and the process having been ended as dead while it was only paused.
 */
export function planRepair(markers: StoredMarkers, history: WriteHistory): RepairPlan {
  const { ackedSeq, acked, ackedComplete, unanswered, loads = [] } = history;
  const applied = unanswered.find((attempt) => markersAtWrite(markers, attempt.seq));
  if (applied) return { kind: 'adopt', seq: applied.seq };

  const loadAt = (seq: number) => loadAtWrite(loads, seq);
  const valuesAt = (seq: number) => valuesAtWrite(history, seq);
  const knownSeq = (seq: number | null) => seq !== null && valuesAt(seq) !== undefined;
  // A previous-values hash a repair was still loading cannot be kept: it would count the rest again.
  // One at a write this process no longer knows, outside its loads, was left by a whole flush.
  const completeAt = (seq: number): boolean => {
    if (seq === ackedSeq) return ackedComplete;
    const attempt = unanswered.find((a) => a.seq === seq);
    return attempt ? attempt.complete : loadAt(seq) === undefined;
  };

  // The ended process's tombstone stands in for its totals marker: what of it the totals hold.
  const wasEnded = markers.totals === null && markers.ended !== null;
  // A tombstone of 0: the totals held no write of it when it was ended. Before any write of it was
  // acknowledged, none had arrived; after one was, the totals had lost it (the key evicted or
  // deleted, Redis restarted or gone back in time) before the end, and hold nothing of it.
  const lostBeforeEnd = wasEnded && markers.ended === 0 && ackedSeq > 0;
  const inTotals = lostBeforeEnd ? null : (markers.totals ?? markers.ended);
  const causes: string[] = [];
  let markLost = false;

  if (lostBeforeEnd) {
    markLost = true;
    causes.push(
      'Redis no longer held this process in the totals (restarted empty, flushed, or the key was evicted or deleted) when it was ended as dead (no heartbeat for the TTL, or markProcessDead) while it was still running; what only Redis held, the counts of processes that ended before, cannot come back',
    );
  } else if (wasEnded) {
    causes.push(
      'this process was ended as dead (no heartbeat for the TTL, or markProcessDead) while it was still running; what it had written stays counted',
    );
  } else if (inTotals === null) {
    markLost = true;
    causes.push(
      'Redis no longer holds this process in the totals (restarted empty, flushed, or the key was evicted or deleted); what only Redis held, the counts of processes that ended before, cannot come back',
    );
  } else if (!knownSeq(inTotals) || inTotals < ackedSeq) {
    markLost = true;
    causes.push(
      `Redis went back in time: its totals hold write ${inTotals} of this process, which had written ${ackedSeq} (a restore from an older snapshot, or a replica that lagged was promoted)`,
    );
  }
  if (!wasEnded && markers.metadata !== inTotals && !knownSeq(markers.metadata)) {
    markLost = true;
    causes.push('the metric metadata was lost (evicted or deleted)');
  }
  if (!wasEnded && inTotals !== null && markers.counters !== inTotals) {
    causes.push("this process's previous counter values were lost (evicted or deleted)");
  }
  if (!wasEnded && markers.gauges !== markers.counters && markers.gauges !== inTotals) {
    causes.push("this process's gauges were lost (evicted or deleted)");
  }

  const totalsKept = inTotals !== null && inTotals >= ackedSeq;
  if (inTotals === null) {
    return {
      kind: 'rebase',
      keepCounters: false,
      base: new Map(),
      markLost,
      exact: true,
      totalsKept,
      cause: causes.join('; '),
    };
  }
  if (!wasEnded && markers.counters === inTotals && completeAt(inTotals)) {
    return {
      kind: 'rebase',
      keepCounters: true,
      base: valuesAt(inTotals) ?? new Map(),
      markLost,
      exact: true,
      totalsKept,
      cause: causes.join('; '),
    };
  }
  const known = valuesAt(inTotals);
  if (known) {
    return {
      kind: 'rebase',
      keepCounters: false,
      base: known,
      markLost,
      exact: true,
      totalsKept,
      cause: causes.join('; '),
    };
  }
  causes.push(
    `the totals hold an older write of this process (${inTotals}) whose values it no longer knows, so they may be off by what it counted since`,
  );
  return {
    kind: 'rebase',
    keepCounters: false,
    // Taken to be what the totals hold of this process: the least wrong guess, never counted twice.
    base: new Map(acked),
    markLost,
    exact: false,
    totalsKept,
    cause: causes.join('; '),
  };
}
