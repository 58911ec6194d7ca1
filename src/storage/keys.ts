import { pythonJsonDumps } from './python-json.js';

/** Label names and values of one series. Values are strings once stored. */
export type Labels = Record<string, string>;

/**
 * The seed's key of one sample: a JSON array `[metricName, name, {labels}, helpText]` formatted like
 * Python's `json.dumps(..., sort_keys=True)`, so it matches gunicorn-prometheus-exporter byte for byte.
 *
 * @example
 * redisKey('gunicorn_requests_total', 'requests_total', ['method', 'status'], ['GET', '200'],
 *   'Total number of requests')
 * // '["gunicorn_requests_total", "requests_total", {"method": "GET", "status": "200"}, "Total number of requests"]'
 */
export function redisKey(
  metricName: string,
  name: string,
  labelNames: readonly string[],
  labelValues: readonly string[],
  helpText: string,
): string {
  if (labelNames.length !== labelValues.length) {
    throw new TypeError(
      `redisKey: ${labelNames.length} label names but ${labelValues.length} label values`,
    );
  }
  const labels: Labels = {};
  labelNames.forEach((labelName, i) => (labels[labelName] = String(labelValues[i])));
  return pythonJsonDumps([metricName, name, labels, helpText]);
}

/**
 * The hash field under which one series is stored: `[metricName, sampleName, {labels}]` as compact JSON
 * with sorted label names. Unlike {@link redisKey} it leaves out the help text, which is stored once per
 * metric in the metadata hash: a series costs fewer bytes, and a changed help text does not orphan it.
 */
export function seriesField(metricName: string, sampleName: string, labels: Labels): string {
  const sorted: Labels = {};
  for (const labelName of Object.keys(labels).sort()) sorted[labelName] = labels[labelName];
  return JSON.stringify([metricName, sampleName, sorted]);
}

/** The parts of a {@link seriesField}. */
export interface SeriesParts {
  metricName: string;
  sampleName: string;
  labels: Labels;
}

/** Reads a {@link seriesField} back; `undefined` when the field is not one. */
export function parseSeriesField(field: string): SeriesParts | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(field);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) return undefined;
  const [metricName, sampleName, labels] = parsed as unknown[];
  if (typeof metricName !== 'string' || typeof sampleName !== 'string') return undefined;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  if (!Object.values(labels).every((value) => typeof value === 'string')) return undefined;
  return { metricName, sampleName, labels: labels as Labels };
}

/**
 * Every Redis key of one prefix. All of them start with the hash tag `{prefix}`, so on Redis Cluster they
 * live in one slot and one Lua script may touch any of them. Keys are only ever built, never parsed, so
 * the prefix may contain `:` (but not `{` or `}`).
 */
export class PrefixKeys {
  /** Sorted set: member = process id, score = its last heartbeat (Redis server time, ms). */
  readonly processes: string;
  /** Hash: process id -> JSON {@link ProcessInfo}. */
  readonly processInfo: string;
  /** Hash: metric name -> JSON {@link MetricMeta}. */
  readonly metadata: string;
  /** Hash: series field -> value folded in from processes that ended (counters, histograms, summary sums). */
  readonly archive: string;
  /** Sorted set: member = id of a process folded into the archive, score = when (kept one day). */
  readonly reaped: string;

  constructor(readonly prefix: string) {
    if (prefix === '' || /[{}]/.test(prefix)) {
      throw new TypeError(`Redis key prefix must be non-empty without "{" or "}"; got "${prefix}"`);
    }
    const tag = `{${prefix}}`;
    this.processes = `${tag}:processes`;
    this.processInfo = `${tag}:process-info`;
    this.metadata = `${tag}:metadata`;
    this.archive = `${tag}:archive`;
    this.reaped = `${tag}:reaped`;
  }

  /** Hash of one process's series: series field -> `"<value> <timestamp ms>"`. */
  values(processId: string): string {
    return `{${this.prefix}}:values:${processId}`;
  }

  /** The keys that exist once per prefix, whatever the number of processes. */
  shared(): string[] {
    return [this.processes, this.processInfo, this.metadata, this.archive, this.reaped];
  }
}

/** What a process records about itself in {@link PrefixKeys.processInfo}. */
export interface ProcessInfo {
  pid: number;
  hostname: string;
  /** When the process started writing, ms since the epoch (local clock: informational only). */
  startedAt: number;
}

/** What is stored once per metric in {@link PrefixKeys.metadata}. */
export interface MetricMeta {
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  help: string;
  /** The gauge's multiprocess mode; only for gauges. */
  mode?: string;
}
