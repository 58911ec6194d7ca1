import { parseSeriesField, type MetricMeta, type SeriesParts } from '../storage/keys.js';
import type { MetricsStore, RawPrefixReply } from '../storage/metrics-store.js';
import { decodeStoredValue, type StoredValue } from '../storage/stored-value.js';
import { labelsKey } from './metric-family.js';

/** One process as the index knows it. */
export interface ProcessRecord {
  id: string;
  pid: number;
  hostname: string;
  /** Last heartbeat, Redis server time in ms. */
  heartbeat: number;
}

/** One stored series, parsed. */
export interface StoredSeries extends SeriesParts {
  /** The same for one series in every process: sample name and sorted labels. */
  key: string;
  value: number;
  timestamp: number;
}

/** A parsed field, shared by every process that stores it; `null` when the field is not a series. */
type ParsedField = (SeriesParts & { key: string }) | null;

/** Everything stored under one prefix, read at one moment. */
export interface PrefixData {
  /** Redis server time of the read, ms. */
  now: number;
  processes: ProcessRecord[];
  metadata: Map<string, MetricMeta>;
  /** Series folded in from processes that ended. */
  archive: StoredSeries[];
  /** Process id -> its series. */
  values: Map<string, StoredSeries[]>;
  /** What could not be read, one line each (bad data under the prefix). */
  problems: string[];
}

const METRIC_TYPES = new Set(['counter', 'gauge', 'histogram', 'summary']);

/** Reads everything a store holds (with Redis: one script call, no KEYS, no SCAN) and parses it. */
export async function readPrefix(store: MetricsStore): Promise<PrefixData> {
  return parsePrefixReply(await store.read());
}

/** Parses a store's flat reply; what cannot be read is described in `problems`. */
export function parsePrefixReply(reply: RawPrefixReply): PrefixData {
  const [now, wrongType, processList, infoPairs, metadataPairs, archivePairs, ...valuePairs] =
    reply;
  const problems = wrongType.map((key) => `key ${key} is of the wrong type`);
  const info = pairsToMap(infoPairs);
  // Every process stores the same fields: each is parsed once per read, not once per process.
  const fields = new Map<string, ParsedField>();
  const data: PrefixData = {
    now: Number(now),
    processes: [],
    metadata: readMetadata(pairsToMap(metadataPairs), problems),
    archive: readSeries(archivePairs, 'archive', problems, true, fields),
    values: new Map(),
    problems,
  };
  for (let i = 0; i < processList.length; i += 2) {
    const id = processList[i];
    const process = readProcess(id, Number(processList[i + 1]), info.get(id));
    data.processes.push(process);
    data.values.set(
      id,
      readSeries(valuePairs[i / 2] ?? [], `process ${id}`, problems, false, fields),
    );
  }
  return data;
}

function pairsToMap(pairs: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) map.set(pairs[i], pairs[i + 1]);
  return map;
}

/** Info is informational: a process without it still counts, with pid 0 and an unknown host. */
function readProcess(id: string, heartbeat: number, infoJson: string | undefined): ProcessRecord {
  let pid = 0;
  let hostname = 'unknown';
  try {
    const info = JSON.parse(infoJson ?? '{}') as { pid?: unknown; hostname?: unknown };
    if (typeof info.pid === 'number') pid = info.pid;
    if (typeof info.hostname === 'string') hostname = info.hostname;
  } catch {
    // keep the defaults
  }
  return { id, pid, hostname, heartbeat };
}

function readMetadata(raw: Map<string, string>, problems: string[]): Map<string, MetricMeta> {
  const metadata = new Map<string, MetricMeta>();
  for (const [name, json] of raw) {
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

/** The archive holds bare numbers (HINCRBYFLOAT); process hashes hold "value timestamp". */
function readSeries(
  pairs: string[],
  where: string,
  problems: string[],
  bare: boolean,
  fields: Map<string, ParsedField>,
): StoredSeries[] {
  const series: StoredSeries[] = [];
  for (let i = 0; i < pairs.length; i += 2) {
    const parts = parseField(pairs[i], fields);
    const stored: StoredValue | undefined = bare
      ? bareNumber(pairs[i + 1])
      : decodeStoredValue(pairs[i + 1]);
    if (!parts) {
      problems.push(`${where}: field ${JSON.stringify(pairs[i]).slice(0, 80)} is not a series`);
    } else if (!stored) {
      problems.push(`${where}: value of ${pairs[i]} is not a number`);
    } else {
      series.push({
        metricName: parts.metricName,
        sampleName: parts.sampleName,
        labels: parts.labels,
        key: parts.key,
        value: stored.value,
        timestamp: stored.timestamp,
      });
    }
  }
  return series;
}

function parseField(field: string, fields: Map<string, ParsedField>): ParsedField {
  let parsed = fields.get(field);
  if (parsed === undefined) {
    const parts = parseSeriesField(field);
    parsed = parts ? { ...parts, key: `${parts.sampleName}\n${labelsKey(parts.labels)}` } : null;
    fields.set(field, parsed);
  }
  return parsed;
}

function bareNumber(text: string): StoredValue | undefined {
  const value = Number(text);
  return text.trim() === '' || Number.isNaN(value) ? undefined : { value, timestamp: 0 };
}
