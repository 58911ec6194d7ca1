import { Summary, type Registry, type RegistryContentType } from 'prom-client';

import { defaultLabelsOf, EntryFields } from './entry-fields.js';
import { encodeCentroids } from './window-digest.js';

/** The quantile window of one summary series, as this process last read it. */
export interface SummaryWindow {
  /** Its centroids as stored (see window-digest.ts). */
  centroids: string;
  /**
   * When prom-client stops serving it (its time window rotates), on this process's wall clock
   * (`Date.now()`, ms); `undefined` for a summary without `maxAgeSeconds`.
   */
  expiresAt: number | undefined;
  /**
   * Its stored text, set by the writer once the store's clock is known: kept with the window so that an
   * unchanged window is recognised by this text and never sent again.
   */
  stored?: string;
}

/** A t-digest of the `tdigest` package, which prom-client uses (only what is read here). */
interface Digest {
  n: number;
  /**
   * How many times it was emptied: `reset()` (a summary's `reset()`, and every `compress()`, which
   * empties the digest and pushes its centroids back) keeps the object, and `n` may come back the same.
   */
  nreset?: number;
  size(): number;
  toArray(): { mean: number; n: number }[];
}

/** prom-client's `TimeWindowQuantiles` (lib/timeWindowQuantiles.js): a ring of digests. */
interface TimeWindow {
  ringBuffer: Digest[];
  currentBuffer: number;
  shouldRotate: unknown;
  lastRotateTimestampMillis: number;
  durationBetweenRotatesMillis: number;
  /** Rotates the ring if its time came, then counts the centroids of the digest served. */
  size(): number;
}

interface SummaryEntry {
  labels: unknown;
  td?: unknown;
  /** Observations since the entry was made, each once. */
  count?: unknown;
}

/** What a window was made from, to tell at the next read whether it changed. */
interface Seen {
  digest: Digest;
  n: number;
  nreset: number | undefined;
  share: number;
  rotatedAt: number;
  window: SummaryWindow;
}

/** prom-client's summaries: only their own class, read through their own `get()`. */
interface PromSummary {
  name: string;
  labelNames?: readonly string[];
  percentiles?: unknown;
  hashMap: Record<string, SummaryEntry | undefined>;
}

function isTimeWindow(td: unknown): td is TimeWindow {
  const window = td as Partial<TimeWindow> | undefined;
  return (
    typeof window === 'object' &&
    window !== null &&
    Array.isArray(window.ringBuffer) &&
    typeof window.currentBuffer === 'number' &&
    typeof window.size === 'function'
  );
}

function isDigest(digest: unknown): digest is Digest {
  const d = digest as Partial<Digest> | undefined;
  return typeof d?.n === 'number' && typeof d.toArray === 'function';
}

/**
 * Reads the quantile window of every summary series of a registry: the t-digest prom-client serves
 * the series' quantiles from (`metric.hashMap[key].td`, a ring of `ageBuckets` digests when the
 * summary has `maxAgeSeconds`), as centroids a scrape can merge across processes.
 *
 * Kept apart from the registry reader, which is tuned for the cost of a flush: summaries are few, and
 * this reader walks their series on every read. Each read rotates the ring as prom-client itself does
 * when it serves quantiles (`td.size()`), so a window whose time has passed is replaced even while
 * nothing is observed; a window is encoded again only when its digest changed (another digest object,
 * another count, or emptied since: a summary reset and observed as often again between two reads).
 *
 * prom-client fills a new ring with one digest object in every slot (`Array(n).fill(new TDigest())`),
 * so until each slot has been rotated once an observation counts in the digest served once per slot
 * holding it. Its own quantiles do not change (every observation counts the same), but merged with
 * another process's window it would weigh several times too much; the weights of that first digest are
 * therefore divided by how many times it counts each observation on average (its `n` over the entry's
 * `count`), so that it weighs as many observations as the process made. The number of slots holding it
 * would do only until the first rotation: an observation pushed before it counts in every slot.
 */
export class SummaryWindowReader {
  /** Series field -> its current window; series with nothing in their window are left out. */
  readonly windows = new Map<string, SummaryWindow>();
  /** Summary name -> the quantiles it serves. */
  readonly percentiles = new Map<string, number[]>();
  private readonly fields = new WeakMap<object, EntryFields>();
  /** Series field -> what each of its entries' windows was made from (see {@link read}). */
  private seen = new Map<string, Seen[]>();
  /** Series field -> the window of several entries taken together, and the reads it was made of. */
  private combined = new Map<string, { reads: Seen[]; window: SummaryWindow }>();

  constructor(private readonly registry: Registry<RegistryContentType>) {}

  /** Brings {@link windows} and {@link percentiles} up to date with the registry. */
  read(): void {
    const defaults = defaultLabelsOf(this.registry);
    const seen = new Map<string, Seen[]>();
    this.percentiles.clear();
    for (const metric of this.registry.getMetricsAsArray()) {
      if (!(metric instanceof Summary) || metric.get !== Summary.prototype.get) continue;
      const summary = metric as unknown as PromSummary;
      const percentiles = validPercentiles(summary.percentiles);
      if (percentiles === undefined) continue;
      this.percentiles.set(summary.name, percentiles);
      let fields = this.fields.get(summary);
      if (!fields) {
        fields = new EntryFields(summary.name, summary.labelNames ?? []);
        this.fields.set(summary, fields);
      }
      fields.useDefaults(defaults);
      const map = summary.hashMap;
      for (const key of Object.keys(map)) {
        const entry = map[key];
        if (!entry || !isTimeWindow(entry.td)) continue;
        const field = fields.field(entry);
        if (field === undefined) continue;
        // Two entries can show one label set (a default label filling a falsy value, or given by
        // one and left out by the other): their count and sum are added (registry-snapshot.ts), so
        // the window holds the observations of both.
        let reads = seen.get(field);
        if (!reads) seen.set(field, (reads = []));
        const read = this.readWindow(entry.td, entry.count, this.seen.get(field)?.[reads.length]);
        if (read) reads.push(read);
      }
    }
    this.windows.clear();
    const combined = new Map<string, { reads: Seen[]; window: SummaryWindow }>();
    for (const [field, reads] of seen) {
      if (reads.length === 0) continue;
      if (reads.length === 1) {
        this.windows.set(field, reads[0].window);
        continue;
      }
      const before = this.combined.get(field);
      const same =
        before !== undefined &&
        before.reads.length === reads.length &&
        before.reads.every((read, i) => read === reads[i]);
      const entry = same ? before : { reads, window: combineWindows(reads) };
      combined.set(field, entry);
      this.windows.set(field, entry.window);
    }
    this.seen = seen;
    this.combined = combined;
  }

  /** The window a series serves now; `undefined` when it holds nothing. */
  private readWindow(td: TimeWindow, count: unknown, before: Seen | undefined): Seen | undefined {
    // Rotates the ring as prom-client does before it serves quantiles.
    if (td.size() === 0) return undefined;
    const digest = td.ringBuffer[td.currentBuffer];
    if (!isDigest(digest)) return undefined;
    let share = 0;
    for (const slot of td.ringBuffer) if (slot === digest) share += 1;
    // A digest counting more observations than the entry has is the ring's first one, which holds every
    // observation since the entry was made, each `n / count` times on average. Dividing by the slots
    // that still hold it understates that once some rotated: an observation pushed before the first
    // rotation counts in every slot, and weighed up to `ageBuckets` times too much.
    if (typeof count === 'number' && count > 0 && digest.n > count) share = digest.n / count;
    const rotatedAt = td.lastRotateTimestampMillis;
    if (
      before !== undefined &&
      before.digest === digest &&
      before.n === digest.n &&
      before.nreset === digest.nreset &&
      before.share === share &&
      before.rotatedAt === rotatedAt
    ) {
      return before;
    }
    const expiresAt = td.shouldRotate ? rotatedAt + td.durationBetweenRotatesMillis : undefined;
    return {
      digest,
      n: digest.n,
      nreset: digest.nreset,
      share,
      rotatedAt,
      window: { centroids: encodeCentroids(digest.toArray(), share), expiresAt },
    };
  }
}

/**
 * One window holding the observations of several entries' windows: the union of their centroids (each
 * weight divided by its own share), ordered by mean. It expires when the first of them does, so that
 * nothing prom-client no longer serves is merged into a scrape.
 */
function combineWindows(reads: readonly Seen[]): SummaryWindow {
  const centroids: { mean: number; n: number }[] = [];
  let expiresAt: number | undefined;
  for (const { digest, share, window } of reads) {
    for (const { mean, n } of digest.toArray()) centroids.push({ mean, n: n / share });
    if (window.expiresAt !== undefined) {
      expiresAt =
        expiresAt === undefined ? window.expiresAt : Math.min(expiresAt, window.expiresAt);
    }
  }
  centroids.sort((a, b) => a.mean - b.mean);
  return { centroids: encodeCentroids(centroids), expiresAt };
}

/** prom-client's `percentiles` of a summary, if they are all quantiles (0 to 1). */
function validPercentiles(percentiles: unknown): number[] | undefined {
  if (!Array.isArray(percentiles)) return undefined;
  const valid = percentiles.every((p) => typeof p === 'number' && p >= 0 && p <= 1);
  return valid ? [...(percentiles as number[])] : undefined;
}
