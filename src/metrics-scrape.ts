import type { Registry, RegistryContentType } from 'prom-client';

import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderFamilies,
  type ExpositionContentType,
} from './aggregation/exposition.js';
import { localFamilies } from './aggregation/local-families.js';
import { MergedScrapeUnavailableError } from './aggregation/merged-scrape-error.js';
import type { MetricFamily } from './aggregation/metric-family.js';
import type { RedisMultiProcessCollector } from './aggregation/redis-multi-process-collector.js';
import { prefersOpenMetrics } from './exposition-negotiation.js';

/** What `/metrics` answers. */
export interface ScrapeResponse {
  /** 200 with the exposition, or 503 with a one-line reason. */
  status: 200 | 503;
  contentType: ExpositionContentType | 'text/plain; charset=utf-8';
  body: string;
  /** With a 503: seconds after which a scrape may succeed, when known (`Retry-After`). */
  retryAfterSeconds?: number;
}

/** How a scrape is answered. */
export interface ScrapeOptions {
  /** Merges every process; `undefined` when storage is off (the process serves its own registry). */
  collector: RedisMultiProcessCollector | undefined;
  /** This process's registry, served when storage is off, or with `fallback: 'local'`. */
  registry: Registry<RegistryContentType>;
  timeoutMs: number;
  /** What a scrape that cannot be merged right answers: `none` a 503, `local` {@link registry}. */
  fallback: 'none' | 'local';
  logger: { warn(message: string): void; log(message: string): void };
  /** Called when the store lost data this process wrote: flush now to write it again. */
  onLostData: () => void;
  /** Settles once the storage set-up has connected and written (or failed to); a scrape waits for it. */
  whenReady?: () => Promise<unknown>;
  /**
   * Runs before each read, given how long it may take: asks every process to flush now (fresh
   * scrapes). Must not reject.
   */
  beforeRead?: (budgetMs: number) => Promise<unknown>;
  /**
   * Turns a failed read's error into one that names its cause, as a failed flush's is (a Redis Cluster
   * client the user gave answers ioredis' own words: "Too many Cluster redirections", a bare ASK).
   */
  describeError?: (error: unknown) => unknown;
}

const TEXT = 'text/plain; charset=utf-8';
/** Left of Prometheus' own timeout, so it gets our 503 rather than timing out itself. */
const PROMETHEUS_TIMEOUT_MARGIN_MS = 500;

class ScrapeTimeoutError extends Error {}

/** What a scrape waits on, named in its timeout's text: a 503 then says which call was stuck. */
const STEPS = {
  ready: "while the storage set-up connected and wrote this process's first values",
  fresh: 'while asking every process to flush now (fresh scrape)',
  read: "while reading every process's metrics",
} as const;
type Step = (typeof STEPS)[keyof typeof STEPS];

/**
 * Answers scrapes: every process merged, or a 503 with its reason when that cannot be done right
 * (the read failed or took too long, or Redis lost data that live processes are still writing again).
 * A 503 is what keeps Prometheus' counters right: a 200 with one process's values would read as
 * counter resets. Concurrent scrapes share one read.
 */
export class MetricsScrape {
  /**
   * The read under way of each kind of scrape (with exemplars for OpenMetrics, or without), and when
   * it started (local monotonic ms).
   */
  private readonly reading = new Map<
    boolean,
    { read: Promise<MetricFamily[]>; since: number; step: Step }
  >();
  private failing = false;

  constructor(private readonly options: ScrapeOptions) {}

  /**
   * @param accept the request's `Accept` header (OpenMetrics when it prefers it to text).
   * @param prometheusTimeout the `X-Prometheus-Scrape-Timeout-Seconds` header, if any.
   */
  async respond(accept = '', prometheusTimeout?: string): Promise<ScrapeResponse> {
    const contentType: ExpositionContentType = prefersOpenMetrics(accept)
      ? OPENMETRICS_CONTENT_TYPE
      : PROMETHEUS_CONTENT_TYPE;
    const { collector } = this.options;
    if (!collector) return this.local(contentType);
    try {
      const ready = this.options.whenReady?.() ?? Promise.resolve();
      const timeoutMs = this.timeoutMs(prometheusTimeout);
      const exemplars = contentType === OPENMETRICS_CONTENT_TYPE;
      let step = (): Step => STEPS.ready;
      const families = await this.withTimeout(
        ready.then(() => {
          const entry = this.read(collector, timeoutMs / 2, exemplars);
          step = () => entry.step;
          return entry.read;
        }),
        timeoutMs,
        () => step(),
      );
      this.recovered();
      return { status: 200, contentType, body: await renderFamilies(families, contentType) };
    } catch (error) {
      return this.failed(error, contentType);
    }
  }

  /**
   * One read at a time of each kind: scrapes that come while it runs share it (and its fresh-scrape
   * request). Exemplars are read only for a scrape that can serve them.
   */
  private read(
    collector: RedisMultiProcessCollector,
    freshBudgetMs: number,
    exemplars: boolean,
  ): { read: Promise<MetricFamily[]>; step: Step } {
    const now = performance.now();
    const current = this.reading.get(exemplars);
    // A read older than a scrape's timeout is stuck (a client that waits for ever): not shared.
    if (current && now - current.since < this.options.timeoutMs) return current;
    const entry: { read: Promise<MetricFamily[]>; since: number; step: Step } = {
      since: now,
      step: this.options.beforeRead ? STEPS.fresh : STEPS.read,
      read: Promise.resolve([]),
    };
    entry.read = (async () => {
      await this.options.beforeRead?.(freshBudgetMs);
      entry.step = STEPS.read;
      return collector.collect({ exemplars });
    })();
    void entry.read
      .catch(() => undefined)
      .finally(() => {
        if (this.reading.get(exemplars) === entry) this.reading.delete(exemplars);
      });
    this.reading.set(exemplars, entry);
    return entry;
  }

  private timeoutMs(prometheusTimeout: string | undefined): number {
    const seconds = Number(prometheusTimeout);
    if (!prometheusTimeout || !Number.isFinite(seconds) || seconds <= 0)
      return this.options.timeoutMs;
    return Math.max(
      100,
      Math.min(this.options.timeoutMs, seconds * 1000 - PROMETHEUS_TIMEOUT_MARGIN_MS),
    );
  }

  private withTimeout<T>(work: Promise<T>, ms: number, step: () => Step): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ScrapeTimeoutError(`no answer within ${ms} ms, ${step()}`)),
        ms,
      );
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  private async failed(
    error: unknown,
    contentType: ExpositionContentType,
  ): Promise<ScrapeResponse> {
    if (error instanceof MergedScrapeUnavailableError) {
      this.options.onLostData();
      // Partial totals are a wrong number as much as a failed read is: 'local' chose its own registry.
      if (this.options.fallback === 'local') return this.local(contentType);
      return {
        status: 503,
        contentType: TEXT,
        body: `${error.message}\n`,
        retryAfterSeconds:
          error.retryAfterMs === undefined ? undefined : Math.ceil(error.retryAfterMs / 1000),
      };
    }
    // The store's own words: Redis under its prefix, or the cluster primary for an IpcMetricsStore.
    const where = this.options.collector?.storeDescription ?? 'the store';
    const described = this.options.describeError?.(error) ?? error;
    const reason = `the metrics of every process could not be read from ${where}: ${(described as Error)?.message ?? String(described)}`;
    const local = this.options.fallback === 'local';
    if (!this.failing) {
      this.options.logger.warn(
        local
          ? `Scrapes serve this process only (fallback: local) while ${reason}`
          : `Scrapes answer 503 while ${reason}`,
      );
    }
    this.failing = true;
    if (local) return this.local(contentType);
    return { status: 503, contentType: TEXT, body: `${reason}\n` };
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.logger.log('Scrapes merge every process again.');
  }

  private async local(contentType: ExpositionContentType): Promise<ScrapeResponse> {
    const families = await localFamilies(this.options.registry);
    return { status: 200, contentType, body: await renderFamilies(families, contentType) };
  }
}
