import { decodeNumber, encodeNumber } from './packed-values.js';

/** One centroid of a t-digest: the mean of the observations it stands for, and how many they are. */
export interface Centroid {
  mean: number;
  weight: number;
}

/**
 * The quantile window of one summary series in one process, as its gauges hash keeps it: the
 * centroids of the t-digest prom-client serves the series' quantiles from, and until when.
 */
export interface WindowDigest {
  /**
   * When prom-client stops serving this window (the store's clock, ms): its time window rotated. `Infinity`
   * for a summary without `maxAgeSeconds`, whose window is everything since the process started.
   */
  expiresAt: number;
  /** Ordered by mean; every weight above 0. */
  centroids: Centroid[];
}

/**
 * Stored text of a window: `q <expiresAt> <centroid> <centroid> ...`, a centroid being `<mean>` when it
 * stands for one observation (most do, in the tails) and `<mean>:<weight>` otherwise. Numbers are
 * written as everywhere in the store, the shortest text that reads back as the same double. The tag
 * `q` tells a window from a gauge value, which starts with a number, `+Inf`, `-Inf` or `NaN`.
 */
const TAG = 'q ';

/** Whether a value of a gauges hash is a summary window rather than a gauge value. */
export function isWindowDigest(text: string): boolean {
  return text.startsWith(TAG);
}

/**
 * The centroids part of a window's text, from prom-client's t-digest (`toArray()`, ordered by mean),
 * each weight divided by `share` (see summary-windows.ts: prom-client may count an observation in one
 * digest several times).
 */
export function encodeCentroids(
  centroids: readonly { mean: number; n: number }[],
  share = 1,
): string {
  const parts: string[] = [];
  for (const { mean, n } of centroids) {
    const weight = n / share;
    parts.push(weight === 1 ? encodeNumber(mean) : `${encodeNumber(mean)}:${encodeNumber(weight)}`);
  }
  return parts.join(' ');
}

/** The stored text of a window: its expiry (the store's clock, ms; `Infinity`: never) and centroids. */
export function encodeWindowDigest(expiresAt: number, centroids: string): string {
  return `${TAG}${encodeNumber(expiresAt)} ${centroids}`;
}

/** Reads a window's stored text; `undefined` when it is not one or not well formed. */
export function decodeWindowDigest(text: string): WindowDigest | undefined {
  if (!isWindowDigest(text)) return undefined;
  const tokens = text.slice(TAG.length).split(' ');
  const expiresAt = decodeNumber(tokens[0]);
  if (expiresAt === undefined || Number.isNaN(expiresAt) || tokens.length < 2) return undefined;
  const centroids: Centroid[] = [];
  let ordered = true;
  for (let i = 1; i < tokens.length; i += 1) {
    const token = tokens[i];
    const colon = token.indexOf(':');
    const mean = decodeNumber(colon === -1 ? token : token.slice(0, colon));
    const weight = colon === -1 ? 1 : decodeNumber(token.slice(colon + 1));
    if (mean === undefined || !Number.isFinite(mean)) return undefined;
    if (weight === undefined || !Number.isFinite(weight) || weight <= 0) return undefined;
    if (centroids.length > 0 && centroids[centroids.length - 1].mean > mean) ordered = false;
    centroids.push({ mean, weight });
  }
  if (!ordered) centroids.sort((a, b) => a.mean - b.mean);
  return { expiresAt, centroids };
}
