import type { Centroid } from '../storage/window-digest.js';

/** A centroid with the weight of every centroid before it plus half its own: where its mean ranks. */
interface Ranked {
  mean: number;
  rank: number;
}

/**
 * The quantiles of several processes' windows of one summary series taken together: the union of
 * their centroids is itself a t-digest of every observation they hold, so each quantile is read off
 * it as the `tdigest` package prom-client uses reads one of its own (`percentile()`: the value at rank
 * `p × total`, interpolated between the means of the two centroids whose mid-ranks bracket it). With
 * one process this is the quantile prom-client serves; across processes no digest is merged into
 * another, so nothing is compressed twice.
 *
 * @param windows the centroids of each window, each ordered by mean.
 * @param percentiles the quantiles wanted, 0 to 1.
 * @returns one value per percentile; 0 for all when the windows hold nothing, as prom-client serves
 *   a summary with nothing in its window.
 */
export function mergedQuantiles(
  windows: readonly (readonly Centroid[])[],
  percentiles: readonly number[],
): number[] {
  const { ranked, total } = rankCentroids(windows);
  if (ranked.length === 0) return percentiles.map(() => 0);
  return percentiles.map((p) => quantileAt(ranked, total * p));
}

/** The union of the windows, ordered by mean, equal means made one centroid (as one digest keeps them). */
function rankCentroids(windows: readonly (readonly Centroid[])[]): {
  ranked: Ranked[];
  total: number;
} {
  const all: Centroid[] = [];
  for (const centroids of windows) for (const centroid of centroids) all.push(centroid);
  if (windows.length > 1) all.sort((a, b) => a.mean - b.mean);
  const ranked: Ranked[] = [];
  const weights: number[] = [];
  for (const { mean, weight } of all) {
    const last = ranked.length - 1;
    if (last >= 0 && ranked[last].mean === mean) weights[last] += weight;
    else {
      ranked.push({ mean, rank: 0 });
      weights.push(weight);
    }
  }
  let total = 0;
  for (let i = 0; i < ranked.length; i += 1) {
    ranked[i].rank = total + weights[i] / 2;
    total += weights[i];
  }
  return { ranked, total };
}

/** The value at a rank: interpolated between the centroids whose mid-ranks bracket it. */
function quantileAt(ranked: readonly Ranked[], rank: number): number {
  // The first centroid ranked above, by binary search.
  let low = 0;
  let high = ranked.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ranked[middle].rank <= rank) low = middle + 1;
    else high = middle;
  }
  const lower = ranked[low - 1];
  const upper = ranked[low];
  if (lower === undefined) return upper.mean;
  if (upper === undefined || lower.rank === rank) return lower.mean;
  return lower.mean + ((rank - lower.rank) * (upper.mean - lower.mean)) / (upper.rank - lower.rank);
}
