import {
  GAUGE_MODE_MARKER,
  isMarkerField,
  MARKER,
  type Labels,
  type MetricMeta,
} from '../storage/keys.js';
import type { MetricsStore, ReadOptions, StoreSnapshot } from '../storage/metrics-store.js';
import { decodeNumber, decodePacked, type PackedSlots } from '../storage/packed-values.js';
import { parseProcessInfo } from '../storage/process-identity.js';
import {
  decodeExemplar,
  parseExemplarField,
  type StoredExemplar,
} from '../storage/stored-exemplar.js';
import { decodeStoredValue, storedValueProblem } from '../storage/stored-value.js';
import { decodeWindowDigest, isWindowDigest, type WindowDigest } from '../storage/window-digest.js';
import { SeriesFieldCache } from './series-field-cache.js';

/** One process as the index knows it. */
export interface ProcessRecord {
  id: string;
  pid: number;
  hostname: string;
  /** Last heartbeat, the store's clock in ms. */
  heartbeat: number;
  /**
   * Its process info is missing or not valid, so `pid` and `hostname` are placeholders (0 and
   * `unknown`), shared by every such process: no pid of another process it could be reusing.
   */
  infoMissing?: boolean;
}

/** Where a series belongs: its metric and label set. */
export interface SeriesIdentity {
  metricName: string;
  labels: Labels;
  /** The same for one label set in every process: the sorted labels. */
  key: string;
  /** A label name Prometheus would reject, if the series has one. */
  badLabel: string | undefined;
}

/** One counter-like series summed over every process, live or ended. */
export interface TotalSeries extends SeriesIdentity {
  slots: PackedSlots;
}

/** One gauge series of one process. */
export interface GaugeSeries extends SeriesIdentity {
  value: number;
  /** When it was set: the store's clock, ms. */
  timestamp: number;
}

/** The quantile window of one summary series in one process. */
export interface WindowSeries extends SeriesIdentity {
  digest: WindowDigest;
}

/** The latest exemplar of a counter series or of one bucket of a histogram series. */
export interface ExemplarSeries extends SeriesIdentity {
  /** The bucket's `le`; `undefined` for a counter. */
  le: string | undefined;
  exemplar: StoredExemplar;
}

/** The mode a process declared for one of its gauges. */
export interface DeclaredMode {
  mode: string;
  /** When it was written: the store's clock, ms. */
  at: number;
}

/** The bookkeeping a scrape checks before it trusts the totals. */
export interface PrefixMarkers {
  /** Process id -> its last write the totals include. */
  totals: Map<string, number>;
  /** Process id -> its last write the metadata include. */
  metadata: Map<string, number>;
  /** When a writer last found that the store had lost data (the store's clock, ms). */
  lostAt: number | undefined;
  /**
   * The totals' stamp (`#born`: when and by which process the hash was made), if they hold one: a
   * Redis store's totals do once a process of this version wrote; a memory store's never (they live
   * as long as the process that scrapes them). Another one than an earlier scrape read means the
   * totals were made anew since.
   */
  born?: string;
}

/** Everything stored under one prefix, read at one moment. */
export interface PrefixData {
  /** The store's clock at the read, ms. */
  now: number;
  processes: ProcessRecord[];
  metadata: Map<string, MetricMeta>;
  totals: TotalSeries[];
  /** Process id -> its gauge series. */
  gauges: Map<string, GaugeSeries[]>;
  /** Process id -> the quantile windows of its summary series. */
  windows: Map<string, WindowSeries[]>;
  /**
   * Process id -> metric name -> the mode it declared for that gauge (none from older versions). Optional
   * so that data made by hand without it still merges (by the metadata's modes).
   */
  gaugeModes?: Map<string, Map<string, DeclaredMode>>;
  /** The shared exemplars, when the read asked for them. */
  exemplars: ExemplarSeries[] | undefined;
  markers: PrefixMarkers;
  /**
   * Why the totals may not hold every count though a process that has not ended wrote (each write
   * leaves its marker there): `during`, they were deleted (evicted, expired) while they were read, so
   * only part of them was; `before`, they are gone altogether; `wrongType`, their key holds another
   * type than a hash (something else wrote it), which reads as no totals at all (said whether or not
   * a live process wrote: the counts of ended processes are in the totals only).
   */
  lostTotals: 'during' | 'before' | 'wrongType' | undefined;
  /** What could not be read, one line each (bad data under the prefix). */
  problems: string[];
}

const METRIC_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary']);

/** Reads everything a store holds for a scrape (with Redis: a few bounded calls) and parses it. */
export async function readPrefix(
  store: MetricsStore,
  fields = new SeriesFieldCache(),
  options: ReadOptions = {},
): Promise<PrefixData> {
  return parseSnapshot(await store.read(options), fields);
}

/**
 * Parses a store's raw snapshot; what cannot be read is described in `problems`. Series fields are
 * parsed once through `fields`, which a collector keeps from one scrape to the next.
 */
export function parseSnapshot(
  snapshot: StoreSnapshot,
  fields = new SeriesFieldCache(),
): PrefixData {
  const problems = snapshot.wrongType.map((key) => `key ${key} is of the wrong type`);
  for (const [key, count] of snapshot.notUtf8 ?? []) {
    problems.push(
      `key ${key}: ${count === 1 ? '1 field' : `${count} fields`} whose name or value is not valid UTF-8, left out`,
    );
  }
  const info = pairsToMap(snapshot.info);
  const markers: PrefixMarkers = { totals: new Map(), metadata: new Map(), lostAt: undefined };
  const gaugeModes: NonNullable<PrefixData['gaugeModes']> = new Map();
  const data: PrefixData = {
    now: snapshot.now,
    processes: [],
    metadata: readMetadata(snapshot.metadata, markers.metadata, problems),
    totals: readTotals(snapshot.totals, markers, problems, fields),
    gauges: new Map(),
    windows: new Map(),
    gaugeModes,
    exemplars:
      snapshot.exemplars === undefined
        ? undefined
        : readExemplars(snapshot.exemplars, problems, fields),
    markers,
    lostTotals: snapshot.partial?.totals ? 'during' : undefined,
    problems,
  };
  let someProcessWrote = false;
  const partialGauges = new Set(snapshot.partial?.gauges);
  const list = snapshot.processes;
  for (let i = 0; i < list.length; i += 2) {
    const id = list[i];
    const processInfo = parseProcessInfo(info.get(id));
    // Every write sets it (when absent): lost with the process-info hash, or written by something else.
    if (!processInfo) {
      problems.push(
        `process ${id}: its process info is missing or not valid; its per-process gauges show pid="0" and hostname="unknown"`,
      );
    }
    data.processes.push({
      id,
      pid: processInfo?.pid ?? 0,
      hostname: processInfo?.hostname ?? 'unknown',
      // Redis writes an infinite score as 'inf', which Number() reads as NaN.
      heartbeat: decodeNumber(list[i + 1]) ?? NaN,
      ...(processInfo ? {} : { infoMissing: true }),
    });
    const gauges: GaugeSeries[] = [];
    const windows: WindowSeries[] = [];
    const modes = new Map<string, DeclaredMode>();
    if (partialGauges.has(id)) {
      problems.push(
        `process ${id}: its gauges were deleted, evicted or expired while they were read; left out`,
      );
    } else {
      const pairs = snapshot.gauges[i / 2] ?? [];
      if (pairs.length === 0 && !markers.metadata.has(id)) problems.push(unknownWriter(id));
      const marked = readGauges(pairs, id, problems, fields, {
        gauges,
        windows,
        modes,
      });
      someProcessWrote ||= marked;
      // Every write of a process that has not ended sets both markers: its gauges hash went.
      if (!marked && markers.totals.has(id)) {
        problems.push(
          `process ${id}: its gauges hash is missing (deleted, evicted or expired, or the process ended during the scrape); its gauges are left out until its next flush`,
        );
      }
    }
    data.gauges.set(id, gauges);
    data.windows.set(id, windows);
    if (modes.size > 0) gaugeModes.set(id, modes);
  }
  // A totals key of another type cannot be read whoever wrote: with every process ended, its counts
  // are all there is, and a scrape without them would show the counters gone.
  if (data.lostTotals === undefined && snapshot.totalsWrongType) data.lostTotals = 'wrongType';
  // Totals with no field at all, not even a marker, though a process's gauges hold its last write: the
  // totals key went. (An end removes only its own marker, and the totals are read first.)
  if (data.lostTotals === undefined && someProcessWrote && snapshot.totals.length === 0) {
    data.lostTotals = 'before';
  }
  fields.endScrape();
  return data;
}

/**
 * An indexed process that left no trace of this version's writes: every write sets its marker in the
 * metadata, and a `RedisStorageDict` write its values. Processes of 0.1.0 index themselves in the same
 * sorted set but keep their series in `{prefix}:values:<id>`, which no scrape reads now: their counts
 * are missing from every scrape, which only this says.
 */
function unknownWriter(id: string): string {
  return `process ${id} is indexed but holds nothing this version reads: a process of nestjs-redis-metrics 0.1.0 writing under the same prefix (its series are not merged; give each version its own keyPrefix), or its keys were evicted or deleted`;
}

function pairsToMap(pairs: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) map.set(pairs[i], pairs[i + 1]);
  return map;
}

function readMetadata(
  pairs: string[],
  markers: Map<string, number>,
  problems: string[],
): Map<string, MetricMeta> {
  const metadata = new Map<string, MetricMeta>();
  for (let i = 0; i < pairs.length; i += 2) {
    const [name, json] = [pairs[i], pairs[i + 1]];
    if (isMarkerField(name)) {
      readProcessMarker(name, json, markers);
      continue;
    }
    let meta: Partial<MetricMeta> | undefined;
    try {
      meta = JSON.parse(json) as Partial<MetricMeta>;
    } catch {
      meta = undefined;
    }
    if (!meta || !METRIC_TYPES.has(String(meta.type)) || typeof meta.help !== 'string') {
      problems.push(`metadata of "${name}" is not valid`);
      continue;
    }
    if (meta.percentiles !== undefined && !validPercentiles(meta.percentiles)) {
      problems.push(`metadata of "${name}": its quantiles are not numbers from 0 to 1`);
      delete meta.percentiles;
    }
    metadata.set(name, meta as MetricMeta);
  }
  return metadata;
}

function validPercentiles(percentiles: unknown): boolean {
  return (
    Array.isArray(percentiles) &&
    percentiles.every((p) => typeof p === 'number' && p >= 0 && p <= 1)
  );
}

const PROCESS_MARKER = MARKER.processSeq('');

function readProcessMarker(field: string, value: string, markers: Map<string, number>): void {
  if (field.startsWith(PROCESS_MARKER)) {
    markers.set(field.slice(PROCESS_MARKER.length), Number(value));
  }
}

function readTotals(
  pairs: string[],
  markers: PrefixMarkers,
  problems: string[],
  fields: SeriesFieldCache,
): TotalSeries[] {
  const totals: TotalSeries[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const [field, text] = [pairs[i], pairs[i + 1]];
    if (isMarkerField(field)) {
      if (field === MARKER.lostAt) markers.lostAt = Number(text);
      else if (field === MARKER.born) markers.born = text;
      else readProcessMarker(field, text, markers.totals);
      continue;
    }
    const series = fields.get(field);
    const slots = decodePacked(text);
    if (!series)
      problems.push(`totals: field ${JSON.stringify(field).slice(0, 80)} is not a series`);
    else if (!slots) problems.push(`totals: value of ${field} is not readable`);
    else {
      const { metricName, labels, key, badLabel } = series;
      totals.push({ metricName, labels, key, badLabel, slots });
    }
  }
  return totals;
}

/**
 * A process's gauges hash: its gauge values, the quantile windows of its summaries and the modes it
 * declared for its gauges. Returns whether the hash holds the write marker (`#seq`) the module's
 * writes set.
 */
function readGauges(
  pairs: string[],
  processId: string,
  problems: string[],
  fields: SeriesFieldCache,
  into: { gauges: GaugeSeries[]; windows: WindowSeries[]; modes: Map<string, DeclaredMode> },
): boolean {
  const { gauges, windows, modes } = into;
  let marked = false;
  for (let i = 0; i < pairs.length; i += 2) {
    const [field, text] = [pairs[i], pairs[i + 1]];
    if (isMarkerField(field)) {
      if (field === MARKER.seq) marked = true;
      else if (field.startsWith(GAUGE_MODE_MARKER)) {
        const declared = readDeclaredMode(text);
        const metricName = field.slice(GAUGE_MODE_MARKER.length);
        if (declared) modes.set(metricName, declared);
        else
          problems.push(
            `process ${processId}: the mode it declared for "${metricName}" is not readable`,
          );
      }
      continue;
    }
    const series = fields.get(field);
    if (series && isWindowDigest(text)) {
      const digest = decodeWindowDigest(text);
      if (digest) windows.push({ ...series, digest });
      else problems.push(`process ${processId}: the quantile window of ${field} is not readable`);
      continue;
    }
    const stored = decodeStoredValue(text);
    if (!series) {
      problems.push(
        `process ${processId}: field ${JSON.stringify(field).slice(0, 80)} is not a series`,
      );
    } else if (!stored) {
      problems.push(`process ${processId}: ${storedValueProblem(field, text)}`);
    } else {
      gauges.push({ ...series, value: stored.value, timestamp: stored.timestamp });
    }
  }
  return marked;
}

/** `"<mode> <ms>"`, as the stores write it. */
function readDeclaredMode(text: string): DeclaredMode | undefined {
  const [mode, at, ...rest] = text.split(' ');
  const time = Number(at);
  if (mode === '' || rest.length > 0 || at === undefined || at === '' || !Number.isFinite(time)) {
    return undefined;
  }
  return { mode, at: time };
}

function readExemplars(
  pairs: string[],
  problems: string[],
  fields: SeriesFieldCache,
): ExemplarSeries[] {
  const exemplars: ExemplarSeries[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const [field, text] = [pairs[i], pairs[i + 1]];
    const parts = parseExemplarField(field);
    const series = parts && fields.get(parts.seriesField);
    const exemplar = decodeExemplar(text);
    if (!parts || !series) {
      problems.push(`exemplars: field ${JSON.stringify(field).slice(0, 80)} is not a series`);
    } else if (!exemplar) {
      problems.push(`exemplars: value of ${field} is not readable`);
    } else {
      exemplars.push({ ...series, le: parts.le, exemplar });
    }
  }
  return exemplars;
}
