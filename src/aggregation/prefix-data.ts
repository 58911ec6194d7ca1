import { isMarkerField, MARKER, type Labels, type MetricMeta } from '../storage/keys.js';
import type { MetricsStore, StoreSnapshot } from '../storage/metrics-store.js';
import { decodePacked, type PackedSlots } from '../storage/packed-values.js';
import { parseProcessInfo } from '../storage/process-identity.js';
import { decodeStoredValue } from '../storage/stored-value.js';
import { SeriesFieldCache } from './series-field-cache.js';

/** One process as the index knows it. */
export interface ProcessRecord {
  id: string;
  pid: number;
  hostname: string;
  /** Last heartbeat, the store's clock in ms. */
  heartbeat: number;
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

/** The bookkeeping a scrape checks before it trusts the totals. */
export interface PrefixMarkers {
  /** Process id -> its last write the totals include. */
  totals: Map<string, number>;
  /** Process id -> its last write the metadata include. */
  metadata: Map<string, number>;
  /** When a writer last found that the store had lost data (the store's clock, ms). */
  lostAt: number | undefined;
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
  markers: PrefixMarkers;
  /** What could not be read, one line each (bad data under the prefix). */
  problems: string[];
}

const METRIC_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary']);

/** Reads everything a store holds for a scrape (with Redis: a few bounded calls) and parses it. */
export async function readPrefix(
  store: MetricsStore,
  fields = new SeriesFieldCache(),
): Promise<PrefixData> {
  return parseSnapshot(await store.read(), fields);
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
  const info = pairsToMap(snapshot.info);
  const markers: PrefixMarkers = { totals: new Map(), metadata: new Map(), lostAt: undefined };
  const data: PrefixData = {
    now: snapshot.now,
    processes: [],
    metadata: readMetadata(snapshot.metadata, markers.metadata, problems),
    totals: readTotals(snapshot.totals, markers, problems, fields),
    gauges: new Map(),
    markers,
    problems,
  };
  const list = snapshot.processes;
  for (let i = 0; i < list.length; i += 2) {
    const id = list[i];
    const processInfo = parseProcessInfo(info.get(id));
    data.processes.push({
      id,
      pid: processInfo?.pid ?? 0,
      hostname: processInfo?.hostname ?? 'unknown',
      heartbeat: Number(list[i + 1]),
    });
    data.gauges.set(id, readGauges(snapshot.gauges[i / 2] ?? [], id, problems, fields));
  }
  fields.endScrape();
  return data;
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
    metadata.set(name, meta as MetricMeta);
  }
  return metadata;
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
      else readProcessMarker(field, text, markers.totals);
      continue;
    }
    const series = fields.get(field);
    const slots = decodePacked(text);
    if (!series)
      problems.push(`totals: field ${JSON.stringify(field).slice(0, 80)} is not a series`);
    else if (!slots) problems.push(`totals: value of ${field} is not readable`);
    else totals.push({ ...series, slots });
  }
  return totals;
}

function readGauges(
  pairs: string[],
  processId: string,
  problems: string[],
  fields: SeriesFieldCache,
): GaugeSeries[] {
  const gauges: GaugeSeries[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const [field, text] = [pairs[i], pairs[i + 1]];
    if (isMarkerField(field)) continue;
    const series = fields.get(field);
    const stored = decodeStoredValue(text);
    if (!series) {
      problems.push(
        `process ${processId}: field ${JSON.stringify(field).slice(0, 80)} is not a series`,
      );
    } else if (!stored) {
      problems.push(`process ${processId}: value of ${field} is not a number`);
    } else {
      gauges.push({ ...series, value: stored.value, timestamp: stored.timestamp });
    }
  }
  return gauges;
}
