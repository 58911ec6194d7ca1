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
   * @param repaired whether a writer found the loss after these totals were made (their `#lost-at`
   *   is not older than their `#born`) and that loss's grace has passed: every live process that
   *   wrote before has written again, so the totals are whole however long ago this collector saw them.
   * @returns what changed while within `graceMs` of when it was first seen, else `undefined`.
   */
  check(
    born: string | undefined,
    graceMs: number,
    now = performance.now(),
    repaired = false,
  ): TotalsAnew | undefined {
    if (repaired && born !== undefined) {
      this.known = born;
      this.anew = undefined;
      return undefined;
    }
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

/**
 * Whether a writer found a loss after the totals stamped `born` were made and the grace of that
 * loss has passed by the read's clock `now` (the store's ms, as `#lost-at` and `#born` are).
 */
export function repairedSinceBorn(
  born: string | undefined,
  lostAt: number | undefined,
  now: number,
  graceMs: number,
): boolean {
  if (born === undefined || lostAt === undefined || Number.isNaN(lostAt)) return false;
  const bornAt = Number(born.split(' ', 1)[0]);
  return !Number.isNaN(bornAt) && lostAt >= bornAt && now - lostAt >= graceMs;
}
