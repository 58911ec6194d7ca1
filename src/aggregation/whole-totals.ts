import { MergedScrapeUnavailableError } from './merged-scrape-error.js';
import { MARKER } from '../storage/keys.js';
import type { PrefixData } from './prefix-data.js';

/**
 * Fails a merge whose totals the data itself shows may be partial: they were lost before or during
 * the read, or a writer found that the store had lost data less than `lostDataGraceMs` ago (the live
 * processes may not have written their counts again yet). Every merge asks this; a collector that
 * keeps state between scrapes asks more (its own last write, the writes earlier scrapes showed). A
 * `#lost-at` that cannot be the time of a loss is ignored and named in `data.problems`.
 * @param description the store, as its `description` names it.
 */
export function checkTotalsWhole(
  data: PrefixData,
  description: string,
  lostDataGraceMs: number,
): void {
  if (data.lostTotals === 'wrongType') {
    throw new MergedScrapeUnavailableError(
      `${description} cannot read its totals: their key holds another type than a hash (something other than this module wrote it); live processes replace it and write their counts again at their next flush`,
      lostDataGraceMs,
    );
  }
  if (data.lostTotals !== undefined) {
    const when =
      data.lostTotals === 'during' ? 'while this scrape read them' : 'before this scrape';
    throw new MergedScrapeUnavailableError(
      `${description} lost its totals ${when} (deleted, evicted or expired); live processes write their counts again at their next flush`,
      lostDataGraceMs,
    );
  }
  const { lostAt } = data.markers;
  if (lostAt === undefined) return;
  // Written by Redis' own clock, which the read also reads: a text that is no time, or a time later
  // than the grace ahead (a clock stepped back stays within it), is not a loss that was found, and
  // waiting for it would fail every scrape, for good or until that time.
  if (Number.isNaN(lostAt) || lostAt - data.now > lostDataGraceMs) {
    data.problems.push(
      Number.isNaN(lostAt)
        ? `totals: ${MARKER.lostAt} is not a time; ignored`
        : `totals: ${MARKER.lostAt} is ${Math.round(lostAt - data.now)} ms ahead of the store's clock, not the time of a loss; ignored`,
    );
    return;
  }
  const ago = data.now - lostAt;
  if (ago < lostDataGraceMs) {
    const left = Math.ceil(lostDataGraceMs - ago);
    // A writer may record the loss after this read took the store's time: "-28 ms ago" would puzzle.
    const when = ago < 0 ? 'just now' : `${Math.round(ago)} ms ago`;
    throw new MergedScrapeUnavailableError(
      `${description} lost data ${when}; live processes are writing their counts again (ready in ${left} ms)`,
      left,
    );
  }
}
