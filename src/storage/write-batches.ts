import type { MetricMeta } from './keys.js';
import type { SeriesBatch } from './metrics-store.js';

/** What one flush sends: the difference between the registry and what the store acknowledged. */
export interface SeriesChanges {
  metadata: [string, MetricMeta][];
  withdrawnMetrics: string[];
  gauges: NonNullable<SeriesBatch['gauges']>;
  gaugeDeletes: string[];
  /**
   * Counter-like series: fields and their packed values, side by side rather than a pair each. A first
   * flush lists every series, and pairs made up front would all live until its last batch is answered
   * (V8 copies what lives that long, and a flush of 100,000 series pays for it); a batch makes its own
   * pairs when it is sent.
   */
  counterFields: string[];
  counterValues: string[];
  counterDeletes: string[];
  windows: [string, string][];
  windowDeletes: string[];
  exemplars: [string, string][];
}

/** The part of a batch the flusher fills in when it sends it. */
export type BatchContent = Omit<SeriesBatch, 'expectedSeq' | 'seq' | 'staleAfterMs'>;

/**
 * The work one script call may take: measured here, a batch of this weight runs in a few ms of Redis
 * time (docs/benchmarks.md), so no call stops Redis for long (the goal: under 20 ms).
 */
export const BATCH_WEIGHT = 1500;

/** A counter-like series costs its numbers (a histogram's buckets are parsed and added one by one). */
function counterWeight(packed: string): number {
  // Most series are counters, `v <number>`: one space.
  if (packed.charCodeAt(0) === 118 && packed.indexOf(' ', 2) === -1) return 3;
  let spaces = 0;
  for (let i = 0; i < packed.length; i += 1) if (packed.charCodeAt(i) === 32) spaces += 1;
  return 2 + (spaces + 1) / 2;
}

/** A summary window is one hash write of its text: Redis' work grows with its length (about 20 bytes a centroid). */
function windowWeight(text: string): number {
  return 1 + text.length / 1000;
}

/** An exemplar is read, compared and maybe written. */
const EXEMPLAR_WEIGHT = 2;

/**
 * Splits changes into batches of bounded weight, each made when it is asked for (a flush sends a few at
 * a time). The first carries the metadata, the metrics withdrawn and the deletions of gauges and
 * windows, so a series never arrives before its metric's metadata; the last carries the deletions of
 * counters, after every counter value (a removed series' delete waits for its last values to be
 * acknowledged: see `CounterLedger.end`). Always at least one batch: an empty one still refreshes the
 * heartbeat.
 */
export function* splitIntoBatches(
  changes: SeriesChanges,
  maxWeight = BATCH_WEIGHT,
): Generator<BatchContent, void, undefined> {
  type Lists = Required<Pick<BatchContent, 'gauges' | 'counters' | 'windows' | 'exemplars'>>;
  let current: Lists & BatchContent = {
    metadata: changes.metadata,
    withdrawnMetrics: changes.withdrawnMetrics,
    gaugeDeletes: changes.gaugeDeletes,
    windowDeletes: changes.windowDeletes,
    gauges: [],
    counters: [],
    windows: [],
    exemplars: [],
  };
  let weight =
    changes.metadata.length +
    changes.withdrawnMetrics.length +
    changes.gaugeDeletes.length +
    changes.windowDeletes.length;
  let items = 0;
  /** Makes room for an item of `cost`; returns the batch that is full, to hand out before the item. */
  const room = (cost: number): BatchContent | undefined => {
    let filled: BatchContent | undefined;
    if (weight + cost > maxWeight && items > 0) {
      filled = current;
      current = { gauges: [], counters: [], windows: [], exemplars: [] };
      weight = 0;
      items = 0;
    }
    weight += cost;
    items += 1;
    return filled;
  };
  for (const gauge of changes.gauges) {
    const filled = room(1);
    if (filled) yield filled;
    current.gauges.push(gauge);
  }
  const { counterFields, counterValues } = changes;
  for (let i = 0; i < counterFields.length; i += 1) {
    const filled = room(counterWeight(counterValues[i]));
    if (filled) yield filled;
    current.counters.push([counterFields[i], counterValues[i]]);
  }
  for (const window of changes.windows) {
    const filled = room(windowWeight(window[1]));
    if (filled) yield filled;
    current.windows.push(window);
  }
  for (const exemplar of changes.exemplars) {
    const filled = room(EXEMPLAR_WEIGHT);
    if (filled) yield filled;
    current.exemplars.push(exemplar);
  }
  if (changes.counterDeletes.length > 0) {
    const filled = room(changes.counterDeletes.length);
    if (filled) yield filled;
    current.counterDeletes = changes.counterDeletes;
  }
  yield current;
}
