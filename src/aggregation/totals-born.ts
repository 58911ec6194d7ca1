import { performance } from 'node:perf_hooks';

/** Totals made anew since an earlier scrape, still within the grace since it was first seen. */
export interface TotalsAnew {
  /** `gone`: the totals hold no stamp now (nobody wrote since); `made`: another stamp. */
  how: 'gone' | 'made';
  /** Milliseconds until the grace has passed. */
  retryAfterMs: number;
}

/**
 * The totals' `#born` stamp this collector's scrapes have read, to tell when Redis restarted empty or
 * was flushed (or the totals key was deleted) before any process that wrote before found it: until
 * one does, at its next write, and records `#lost-at`, the totals hold nothing, or only what a
 * process started since wrote, and a scrape would show the counters dropping. Once the stamp changed
 * (or went), scrapes wait the grace of a loss from when it was first seen, while the live processes
 * write their counts again; then the totals are taken as they are. A store whose totals carry no
 * stamp (a memory store) is never compared, nor is a first scrape: it has nothing to compare with.
 */
export class TotalsBorn {
  /** The stamp of the totals last taken as whole. */
  private known: string | undefined;
  /** Another state of the totals than `known`, and the local monotonic ms it was first seen. */
  private anew: { born: string | undefined; since: number } | undefined;

  /**
   * Compares a read's stamp with the one scrapes read before, and records it.
   * @returns what changed while within `graceMs` of when it was first seen, else `undefined`.
   */
  check(
    born: string | undefined,
    graceMs: number,
    now = performance.now(),
  ): TotalsAnew | undefined {
    if (this.known === undefined || born === this.known) {
      this.known ??= born;
      // A read that began before the change may end after it: the next one sees it again, and waits.
      this.anew = undefined;
      return undefined;
    }
    const anew = this.anew && this.anew.born === born ? this.anew : { born, since: now };
    this.anew = anew;
    const waited = now - anew.since;
    if (waited < graceMs) {
      return { how: born === undefined ? 'gone' : 'made', retryAfterMs: graceMs - waited };
    }
    // Waited out: what the totals hold now is all there is. Gone totals stay compared with the old
    // stamp, so that a first write making them again still waits its own grace.
    if (born !== undefined) {
      this.known = born;
      this.anew = undefined;
    }
    return undefined;
  }
}
