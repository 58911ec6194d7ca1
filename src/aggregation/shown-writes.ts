import { performance } from 'node:perf_hooks';

/** Processes whose write in a read is older than an earlier scrape showed. */
export interface WritesBehind {
  /** How many processes are behind, still within the grace since it was first seen. */
  count: number;
  /** Milliseconds until the earliest of them has had its grace. */
  retryAfterMs: number;
}

/**
 * The latest write of each process that this collector's scrapes have shown (its `#p:<id>` marker in
 * the totals), to tell when Redis went back in time for a process other than the scraping one: a
 * replica that lagged was promoted, or an older snapshot restored. That process alone finds the loss,
 * at its next write; until then the totals lack what it wrote last, and a scrape shows less than an
 * earlier one, which Prometheus reads as a counter reset. A process's write numbers only grow, so a
 * marker lower than one shown before means lost data.
 *
 * Once seen behind, a process is waited for during the grace of a loss (it writes again and repairs
 * its part); after that its older write is taken as what is left, as for a process that ended before
 * a loss.
 */
export class ShownWrites {
  private shown: ReadonlyMap<string, number> = new Map();
  /** Local monotonic ms at which each process was first seen behind. */
  private readonly behindSince = new Map<string, number>();

  /**
   * What the scrapes so far have shown: taken when a read starts, so that a read is compared only
   * with reads that ended before it began (concurrent reads may end in any order).
   */
  snapshot(): ReadonlyMap<string, number> {
    return this.shown;
  }

  /**
   * Compares a read's markers with what was shown before it began, and records them.
   * @param before {@link snapshot} taken when the read began
   * @param markers each process's write number as the read found it in the totals
   * @param graceMs how long a process behind is waited for
   */
  check(
    before: ReadonlyMap<string, number>,
    markers: ReadonlyMap<string, number>,
    graceMs: number,
    now = performance.now(),
  ): WritesBehind {
    const next = new Map<string, number>();
    let count = 0;
    let retryAfterMs = 0;
    for (const [id, seq] of markers) {
      const earlier = before.get(id);
      // The highest shown by any read, this one and one that ended while it ran included.
      const highest = Math.max(seq, earlier ?? -Infinity, this.shown.get(id) ?? -Infinity);
      if (earlier === undefined || seq >= earlier) {
        this.behindSince.delete(id);
        next.set(id, highest);
        continue;
      }
      const since = this.behindSince.get(id) ?? now;
      this.behindSince.set(id, since);
      if (now - since < graceMs) {
        count += 1;
        retryAfterMs = Math.max(retryAfterMs, graceMs - (now - since));
        next.set(id, highest);
      } else {
        // Waited out: what Redis holds of it is all there is, and later reads compare with that.
        next.set(id, seq);
      }
    }
    // Processes without a marker have ended (their counts stay in the totals, nothing to compare).
    for (const id of this.behindSince.keys()) if (!markers.has(id)) this.behindSince.delete(id);
    this.shown = next;
    return { count, retryAfterMs };
  }
}
