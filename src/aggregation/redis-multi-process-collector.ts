import type { Registry } from 'prom-client';

import { RedisMetricsConfigError } from '../errors.js';
import { keyPrefixFromEnv } from '../redis-metrics.env-source.js';
import {
  DEFAULT_REDIS_METRICS_OPTIONS,
  lostDataGraceMs,
  readRedisMetricsOptionsFromEnv,
} from '../redis-metrics.options.js';
import { settingNamesOf } from '../setting-names.js';
import { createRedisClient } from '../storage/create-redis-client.js';
import type { RedisClient } from '../storage/lua-scripts.js';
import type { AcknowledgedWrite } from '../storage/metrics-flusher.js';
import type { MetricsStore } from '../storage/metrics-store.js';
import { RedisMetricsStore } from '../storage/redis-metrics-store.js';
import {
  familiesToRegistry,
  renderFamilies,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  type ExpositionContentType,
} from './exposition.js';
import { mergeMetrics } from './merge-metrics.js';
import { MergedScrapeUnavailableError } from './merged-scrape-error.js';
import type { MetricFamily } from './metric-family.js';
import { readPrefix, type PrefixData } from './prefix-data.js';
import { SeriesFieldCache } from './series-field-cache.js';
import { ShownWrites } from './shown-writes.js';
import { TotalsBorn } from './totals-born.js';
import { checkTotalsWhole } from './whole-totals.js';

/** The most of one problem a warning shows: it may quote a series field, of any length. */
const PROBLEM_SHOWN_CHARS = 300;

function shortened(problem: string): string {
  const line = withControlsEscaped(problem);
  return line.length <= PROBLEM_SHOWN_CHARS
    ? line
    : `${line.slice(0, PROBLEM_SHOWN_CHARS)}... (${line.length} characters)`;
}

/**
 * A problem names what it read under the prefix (metric names, label values, process ids), which
 * something else may have written: a newline in one would start a line of its own in a plain-text
 * log, one that could pass for another entry. Control characters are written as JSON escapes.
 */
function withControlsEscaped(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, (character) =>
    character === '\n' ? '\\n' : `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Options of a {@link RedisMultiProcessCollector}. */
export interface RedisMultiProcessCollectorOptions {
  /** Where the series are; default: Redis through `client`. */
  store?: MetricsStore;
  /**
   * The Redis client; default: one made from `PROMETHEUS_REDIS_URL` (closed by {@link close}) as the
   * module makes its own from the environment: the URL's query read the same way (a
   * `RedisMetricsConfigError` names what is wrong), TLS with the `REDIS_TLS_*` files, the 2 s connect
   * and 5 s command timeouts, no offline queue (a scrape fails at once while Redis is away), and errors
   * that name their cause.
   */
  client?: RedisClient;
  /** Key prefix; default `REDIS_KEY_PREFIX` or `nestjs`. */
  keyPrefix?: string;
  /** A process is live while its heartbeat is younger than this (ms); default 5000. */
  livenessWindowMs?: number;
  /**
   * After a writer found that Redis had lost data, or after this collector first found the totals
   * made anew since its last scrape (their `#born` stamp changed or went: Redis restarted empty or
   * was flushed), scrapes fail for this long (ms) while the live processes write their counts again,
   * so no scrape shows a partial total. Default:
   * {@link lostDataGraceMs} of the default flush interval (2.5 s); the module passes its own.
   */
  lostDataGraceMs?: number;
  /**
   * The scraping process's own last acknowledged write, when it is a writer too: if the totals no
   * longer hold it, Redis lost data that no writer has noticed yet, and the scrape fails.
   */
  acknowledged?: () => AcknowledgedWrite | undefined;
  /**
   * Where unreadable data under the prefix is reported: at a scrape that finds other entries to skip
   * than the scrape before it, so entries that stay (counts of a metric's old type, kept until
   * `deleteCounts()`) are named once, not at every scrape.
   */
  logger?: { warn(message: string): void };
}

/**
 * Aggregates the metrics every process stored under one prefix, at scrape time: counter-like series
 * from the shared totals, gauges per process, in a few bounded calls (no KEYS, no SCAN). The
 * counterpart of the Python original's `RedisMultiProcessCollector`.
 */
export class RedisMultiProcessCollector {
  private readonly client: RedisClient | undefined;
  private readonly ownsClient: boolean;
  /** The first connection attempt of the client made here, settled either way. */
  private connecting: Promise<unknown> | undefined;
  private readonly store: MetricsStore;
  private readonly livenessWindowMs: number;
  private readonly lostDataGraceMs: number;
  private readonly fields = new SeriesFieldCache();
  private readonly shownWrites = new ShownWrites();
  private readonly totalsBorn = new TotalsBorn();
  /** The entries the last scrape skipped, none when it skipped none. */
  private lastSkipped: string | undefined;

  constructor(private readonly options: RedisMultiProcessCollectorOptions = {}) {
    // Checked before a client is made for it.
    this.livenessWindowMs = checkedMs(
      'collector option "livenessWindowMs"',
      options.livenessWindowMs ?? DEFAULT_REDIS_METRICS_OPTIONS.livenessWindowMs,
    );
    this.lostDataGraceMs = checkedMs(
      'collector option "lostDataGraceMs"',
      options.lostDataGraceMs ?? lostDataGraceMs(DEFAULT_REDIS_METRICS_OPTIONS.flushIntervalMs),
    );
    if (options.store) {
      this.client = undefined;
      this.ownsClient = false;
    } else if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      const url = process.env.PROMETHEUS_REDIS_URL;
      if (!url) {
        throw new TypeError(
          'RedisMultiProcessCollector needs a Redis client: pass options.client or set PROMETHEUS_REDIS_URL',
        );
      }
      // The module's own client, from the same environment: a private CA in REDIS_TLS_CA_FILE, say,
      // holds for both. Its timeouts also bound a scrape of a Redis that accepts connections but never
      // answers (Python's default client gives up after its 5 s socket timeout too).
      const settings = readRedisMetricsOptionsFromEnv();
      // Hints then name the variables: "the user and password in PROMETHEUS_REDIS_URL".
      this.client = createRedisClient(settings, settingNamesOf(settings));
      this.ownsClient = true;
    }
    this.store =
      options.store ??
      new RedisMetricsStore(
        this.client!,
        // Read as the module reads it, so that both find the same keys.
        options.keyPrefix ?? keyPrefixFromEnv() ?? DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix,
      );
  }

  /** Where the collector reads, for messages: `Redis under prefix "..."`, or the store's own words. */
  get storeDescription(): string {
    return this.store.description;
  }

  /**
   * The merged metric families of every process. Rejects when the store cannot be read, and with a
   * {@link MergedScrapeUnavailableError} when Redis lost data and the totals are not whole yet.
   * @param options.exemplars also read the shared exemplars and put them on their samples (only
   *   OpenMetrics can serve them, so a text-format scrape leaves them unread).
   */
  async collect(options: { exemplars?: boolean } = {}): Promise<MetricFamily[]> {
    // Without an offline queue, the client made here fails commands until it has connected once.
    if (this.ownsClient) await (this.connecting ??= this.client!.connect().catch(() => undefined));
    const ownWrite = this.options.acknowledged?.();
    const shownBefore = this.shownWrites.snapshot();
    const data = await readPrefix(this.store, this.fields, { exemplars: options.exemplars });
    this.checkWhole(data, ownWrite, shownBefore);
    const { families, problems } = mergeMetrics(data, {
      livenessWindowMs: this.livenessWindowMs,
      accumulate: true,
    });
    // The same entries skipped again (a rolled-back type change leaves its counts in the totals for
    // good) are not logged at every scrape again; other ones, or the same after a clean scrape, are.
    const skipped = problems.length === 0 ? undefined : problems.join('\n');
    if (skipped !== undefined && skipped !== this.lastSkipped) {
      this.options.logger?.warn(
        `Skipped ${problems.length} unreadable entr${problems.length === 1 ? 'y' : 'ies'} in ${this.store.description}: ${problems.slice(0, 3).map(shortened).join('; ')}${problems.length > 3 ? '; ...' : ''}`,
      );
    }
    this.lastSkipped = skipped;
    return families;
  }

  /**
   * A prom-client registry holding the merged metrics, e.g. to combine with `Registry.merge`; with
   * OpenMetrics, exemplars included.
   */
  async registry(
    contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE,
  ): Promise<Registry<ExpositionContentType>> {
    const exemplars = contentType === OPENMETRICS_CONTENT_TYPE;
    return familiesToRegistry(await this.collect({ exemplars }), contentType);
  }

  /** The merged metrics as exposition text (Prometheus 0.0.4 or OpenMetrics 1.0). */
  async metrics(contentType: ExpositionContentType = PROMETHEUS_CONTENT_TYPE): Promise<string> {
    const exemplars = contentType === OPENMETRICS_CONTENT_TYPE;
    return renderFamilies(await this.collect({ exemplars }), contentType);
  }

  /** Closes the client if the collector made it. */
  async close(): Promise<void> {
    const { client } = this;
    if (!this.ownsClient || !client) return;
    // QUIT lets a command under way finish; a client that is not connected has none, and after a
    // refused QUIT it would go on reconnecting and keep the process alive.
    if (client.status === 'ready') await client.quit().catch(() => undefined);
    client.disconnect();
  }

  /**
   * Fails the scrape while the totals may be partial: when the data shows it ({@link checkTotalsWhole}),
   * when the totals no longer hold this process's own acknowledged write (a loss nobody has repaired
   * yet), were made anew (or went) since an earlier scrape, or hold an older write of a process than
   * an earlier scrape showed.
   */
  private checkWhole(
    data: PrefixData,
    ownWrite: AcknowledgedWrite | undefined,
    shownBefore: ReadonlyMap<string, number>,
  ): void {
    // Compared first, so that its grace counts from when the change was first read, even by a scrape
    // that fails for another reason (a writer's #lost-at).
    const anew = this.totalsBorn.check(data.markers.born, this.lostDataGraceMs);
    checkTotalsWhole(data, this.store.description, this.lostDataGraceMs);
    const inTotals = ownWrite && data.markers.totals.get(ownWrite.processId);
    const inMetadata = ownWrite && data.markers.metadata.get(ownWrite.processId);
    if (
      ownWrite &&
      (inTotals === undefined ||
        inTotals < ownWrite.seq ||
        inMetadata === undefined ||
        inMetadata < ownWrite.seq)
    ) {
      throw new MergedScrapeUnavailableError(
        `${this.store.description} no longer holds this process's last write (Redis restarted empty, went back in time, or keys were evicted or deleted); it is being written again`,
        this.lostDataGraceMs,
      );
    }
    // Redis restarted empty or was flushed, and no process that wrote before has found it yet (none
    // recorded #lost-at): the totals hold nothing, or only what processes started since wrote.
    if (anew) {
      throw new MergedScrapeUnavailableError(
        anew.how === 'made'
          ? `${this.store.description} made its totals anew since the last scrape (Redis restarted empty or was flushed, or their key was deleted); live processes write their counts again at their next flush`
          : `${this.store.description} lost its totals since the last scrape (Redis restarted empty or was flushed, or their key was deleted, evicted or expired); live processes write their counts again at their next flush`,
        Math.ceil(anew.retryAfterMs),
      );
    }
    // Another process's last write lost: only that process finds it, at its next write.
    const behind = this.shownWrites.check(shownBefore, data.markers.totals, this.lostDataGraceMs);
    if (behind.count > 0) {
      const one = behind.count === 1;
      throw new MergedScrapeUnavailableError(
        `${this.store.description} holds an older write of ${behind.count} process${one ? '' : 'es'} than an earlier scrape showed (Redis went back in time: a replica that lagged was promoted, or an older snapshot restored); ${one ? 'it writes its' : 'they write their'} counts again at ${one ? 'its' : 'their'} next flush`,
        Math.ceil(behind.retryAfterMs),
      );
    }
  }

  /**
   * Merges everything stored under a prefix (`accumulate` as in Python's prometheus_client: `true`
   * gives cumulative buckets and `_count`, `false` per-bucket sums and no `_count`). Rejects, as a
   * collector's scrape does, with a {@link MergedScrapeUnavailableError} while the totals may be
   * partial: lost before or during the read, or less than `lostDataGraceMs` after a writer found
   * that Redis had lost data (default: {@link lostDataGraceMs} of the default flush interval, 2.5 s).
   * @param keyPrefix default: `REDIS_KEY_PREFIX`, else `nestjs`, as the constructor and the module
   *   read it (Python's `redis_key_prefix=None` reads `config.redis_key_prefix` too).
   */
  static async mergeFromRedis(
    client: RedisClient,
    keyPrefix: string = keyPrefixFromEnv() ?? DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix,
    accumulate = true,
    livenessWindowMs: number = DEFAULT_REDIS_METRICS_OPTIONS.livenessWindowMs,
    graceMs: number = lostDataGraceMs(DEFAULT_REDIS_METRICS_OPTIONS.flushIntervalMs),
  ): Promise<MetricFamily[]> {
    checkedMs('mergeFromRedis argument "livenessWindowMs"', livenessWindowMs);
    checkedMs('mergeFromRedis argument "graceMs"', graceMs);
    const store = new RedisMetricsStore(client, keyPrefix);
    const data = await readPrefix(store);
    checkTotalsWhole(data, store.description, graceMs);
    return mergeMetrics(data, { livenessWindowMs, accumulate }).families;
  }
}

/**
 * A duration given in code, checked: NaN or a negative one would silently turn off the check it
 * bounds (every process dead, or no wait after Redis lost data).
 * @throws RedisMetricsConfigError naming the setting and the value.
 */
function checkedMs(setting: string, value: number): number {
  if (typeof value === 'number' && value >= 0) return value;
  throw new RedisMetricsConfigError(
    setting,
    `must be a number of milliseconds, 0 or more; got ${typeof value === 'number' ? String(value) : typeof value}`,
  );
}
