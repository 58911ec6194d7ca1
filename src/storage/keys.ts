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
 * The hash field under which one series of a metric is stored: `[metricName, {labels}]` as compact
 * JSON with sorted label names. A series is one label set of a metric, as prom-client keeps it: a
 * counter's or gauge's value, or a whole histogram child (every bucket, `_sum` and `_count` in one
 * field, so they are always written and read together). Unlike {@link redisKey} it leaves out the help
 * text, which is stored once per metric in the metadata hash.
 */
export function seriesField(metricName: string, labels: Labels): string {
  const sorted: Labels = {};
  for (const labelName of Object.keys(labels).sort()) sorted[labelName] = labels[labelName];
  return JSON.stringify([metricName, sorted]);
}

/** The parts of a {@link seriesField}. */
export interface SeriesParts {
  metricName: string;
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
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [metricName, labels] = parsed as unknown[];
  if (typeof metricName !== 'string') return undefined;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  for (const value of Object.values(labels)) if (typeof value !== 'string') return undefined;
  return { metricName, labels: labels as Labels };
}

/**
 * Fields of the module's own bookkeeping inside hashes that also hold series. Series fields are JSON
 * arrays and start with `[`, so a field starting with `#` is never a series.
 */
export const MARKER = {
  /** In a process's own hashes: the sequence number of the last write applied to them. */
  seq: '#seq',
  /** In the shared hashes (totals, metadata): the last write of one process applied to them. */
  processSeq: (processId: string) => `#p:${processId}`,
  /** In the totals hash: Redis server time (ms) when a writer found that Redis had lost data. */
  lostAt: '#lost-at',
  /**
   * In the totals hash: when and by which process the hash was made (`"<ms> <id>"`), set by the first
   * write into a totals key that lacks it. A scrape reading the totals in several calls compares it
   * before and after: a key deleted and made again meanwhile (its fields read partly from each) has
   * another.
   */
  born: '#born',
  /**
   * In a process's gauges hash: the mode it merges a gauge in, `"<mode> <ms>"` (the store's clock when
   * it was written). Kept per process so that a mode goes with the processes that declared it.
   */
  gaugeMode: (metricName: string) => `#mode:${metricName}`,
} as const;

/** The prefix of {@link MARKER.gaugeMode} fields. */
export const GAUGE_MODE_MARKER = MARKER.gaugeMode('');

/**
 * The gauge modes a write's metadata declares, as fields of the writer's gauges hash (see
 * {@link MARKER.gaugeMode}) and the mode, which the store stamps with its clock.
 */
export function gaugeModeDeclarations(
  metadata: readonly (readonly [string, MetricMeta])[] | undefined,
): [string, string][] {
  const declared: [string, string][] = [];
  for (const [name, meta] of metadata ?? []) {
    if (meta.type === 'gauge' && typeof meta.mode === 'string') {
      declared.push([MARKER.gaugeMode(name), meta.mode]);
    }
  }
  return declared;
}

/** Whether a hash field is bookkeeping rather than a series. */
export function isMarkerField(field: string): boolean {
  return field.charCodeAt(0) === 35; // '#'
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
  /**
   * Hash: metric name -> JSON {@link MetricMeta}; plus one `#p:<id>` marker per stored process (until
   * it is ended).
   */
  readonly metadata: string;
  /**
   * Hash: series field -> the sum over every process, live or ended, of a counter, histogram or
   * summary series (packed, see `packed-values.ts`); plus one `#p:<id>` marker per stored process and
   * `#lost-at`. This is all a scrape reads of counter-like series.
   */
  readonly totals: string;
  /** Sorted set: member = id of a process that ended, score = when (entries older than a day go). */
  readonly ended: string;
  /** Hash: id of a process that ended -> the sequence number of its last write in the totals. */
  readonly endedSeq: string;
  /**
   * Hash: exemplar field (see `stored-exemplar.ts`) -> the most recent exemplar any process recorded
   * for that counter or histogram bucket, `"<timestamp ms> <value> <labels JSON>"`. Read by a scrape only
   * when it asks for OpenMetrics.
   */
  readonly exemplars: string;

  /** @param prefix the key prefix, which may contain `:` but not `{` or `}` (the hash tag's braces). */
  constructor(
    /** The key prefix these keys belong to, without its hash-tag braces. */
    readonly prefix: string,
  ) {
    if (prefix === '' || /[{}]/.test(prefix)) {
      throw new TypeError(`Redis key prefix must be non-empty without "{" or "}"; got "${prefix}"`);
    }
    const tag = `{${prefix}}`;
    this.processes = `${tag}:processes`;
    this.processInfo = `${tag}:process-info`;
    this.metadata = `${tag}:metadata`;
    this.totals = `${tag}:totals`;
    this.ended = `${tag}:ended`;
    this.endedSeq = `${tag}:ended-seq`;
    this.exemplars = `${tag}:exemplars`;
  }

  /**
   * Hash of one process's gauges, read by every scrape: series field -> `"<value> <timestamp ms>"`;
   * a summary series' field -> its current quantile window (see `window-digest.ts`); plus `#seq` and
   * the mode the process declared for each of its gauges ({@link MARKER.gaugeMode}).
   */
  gauges(processId: string): string {
    return `{${this.prefix}}:gauges:${processId}`;
  }

  /**
   * Hash of one process's counter-like series as it last wrote them (absolute values): what the write
   * script subtracts to add only the difference into the totals. Never read by a scrape.
   */
  counters(processId: string): string {
    return `{${this.prefix}}:counters:${processId}`;
  }

  /** The keys that exist once per prefix, whatever the number of processes. */
  shared(): string[] {
    return [
      this.processes,
      this.processInfo,
      this.metadata,
      this.totals,
      this.ended,
      this.endedSeq,
      this.exemplars,
    ];
  }
}

/** What a process records about itself in {@link PrefixKeys.processInfo}. */
export interface ProcessInfo {
  pid: number;
  hostname: string;
  /** When the process started writing, ms since the epoch (local clock: informational only). */
  startedAt: number;
}

/** The metric types this module stores. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** What is stored once per metric in {@link PrefixKeys.metadata}. */
export interface MetricMeta {
  type: MetricType;
  help: string;
  /** The gauge's multiprocess mode; only for gauges. */
  mode?: string;
  /** The quantiles a summary serves (prom-client's `percentiles`, 0 to 1); only for summaries. */
  percentiles?: number[];
}
