import type { Registry } from 'prom-client';

import type { MetricMeta } from './keys.js';
import type { MetricsStore } from './metrics-store.js';
import type { ProcessIdentity } from './process-identity.js';
import { snapshotRegistry, type GaugeModeResolver } from './registry-snapshot.js';

/** Where the flusher reports trouble. Nest's `Logger` fits. */
export interface FlushLogger {
  warn(message: string): void;
  log(message: string): void;
}

/** Options of a {@link MetricsFlusher}. */
export interface MetricsFlusherOptions {
  /** Where the series go: a `RedisMetricsStore`, or another `MetricsStore`. */
  store: MetricsStore;
  identity: ProcessIdentity;
  /** The prom-client registry whose metrics this process writes. */
  registry: Registry;
  /** Milliseconds between background flushes. */
  intervalMs: number;
  /** The multiprocess mode of each gauge. */
  gaugeModeOf: GaugeModeResolver;
  /**
   * Processes whose heartbeat is older than this many ms are folded into the archive by this one
   * (`ttlSeconds` × 1000). Leave it out to reap nothing.
   */
  reapAfterMs?: number;
  logger?: FlushLogger;
}

/** The outcome of one flush. A flush never throws: Redis trouble is reported here. */
export interface FlushResult {
  /** Whether everything that changed reached Redis. */
  ok: boolean;
  /** Series sent to Redis because they changed since the last successful flush. */
  sent: number;
  /** Series Redis stored anew (a replayed value counts as sent but not as written). */
  written: number;
  /** Series removed from Redis because the registry no longer has them (gauges, quantiles). */
  removed: number;
  /** Heartbeat recorded by Redis (server time, ms), when the flush succeeded. */
  heartbeat?: number;
  /** Dead processes this flush folded into the archive. */
  reaped: number;
  /** What went wrong, when the flush failed. */
  error?: Error;
}

/**
 * Writes this process's prom-client registry to Redis in the background: only the series that changed
 * since the last successful flush, as absolute values, in one atomic script call, with a heartbeat.
 *
 * The hot path never waits on Redis: `inc`, `set` and `observe` stay prom-client's in-memory operations,
 * and the flush reads the registry on its own timer. A failed flush changes nothing locally, so the next
 * one sends the same values again; absolute values make that harmless.
 */
export class MetricsFlusher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<FlushResult> | undefined;
  private queued: Promise<FlushResult> | undefined;
  /** Series field -> value last acknowledged by Redis. */
  private written = new Map<string, number>();
  /** Metric name -> metadata JSON last acknowledged by Redis. */
  private writtenMetadata = new Map<string, string>();
  /** Written gauge and quantile series: these are removed from Redis when the registry drops them. */
  private removable = new Set<string>();
  /**
   * Counter-like series: what this process already handed to the archive (when it was reaped or folded
   * while still running). Only the part above it is written, so nothing is counted twice.
   */
  private baseline = new Map<string, number>();
  /** Whether this process has written and so expects to be in the index. */
  private registered = false;
  private failing = false;
  private last: FlushResult | undefined;
  private lastSuccessAt: number | undefined;

  constructor(private readonly options: MetricsFlusherOptions) {}

  /** Starts flushing every `intervalMs`. The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and runs one last flush, so nothing counted before the stop is lost. */
  async stop(): Promise<FlushResult> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.flush();
  }

  /**
   * Flushes now. Calls made while a flush runs share one follow-up flush, which starts when the running
   * one ends, so a call always sees values counted before it.
   */
  flush(): Promise<FlushResult> {
    if (!this.running) {
      this.running = this.flushOnce().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.flush();
    });
    return this.queued;
  }

  /**
   * Forgets what Redis acknowledged, so the next flush writes every series again. Used after Redis lost
   * data or the process was reaped.
   */
  resync(): void {
    this.written.clear();
    this.writtenMetadata.clear();
    this.removable.clear();
  }

  /**
   * Folds this process into the archive and removes its keys (graceful end). Call after {@link stop}.
   * @returns the number of series folded.
   */
  async fold(): Promise<number> {
    const folded = await this.options.store.fold(this.options.identity.id);
    this.resync();
    return folded;
  }

  /** The result of the last flush, if any. */
  get lastResult(): FlushResult | undefined {
    return this.last;
  }

  /** When the last successful flush ended (local clock, ms), if any. */
  get lastSuccessTime(): number | undefined {
    return this.lastSuccessAt;
  }

  private async flushOnce(): Promise<FlushResult> {
    const result = await this.writeChanges().catch((error: unknown): FlushResult => ({
      ok: false,
      sent: 0,
      written: 0,
      removed: 0,
      reaped: 0,
      error: error instanceof Error ? error : new Error(String(error)),
    }));
    this.report(result);
    this.last = result;
    return result;
  }

  private async writeChanges(retried = false): Promise<FlushResult> {
    const { store, identity, registry, gaugeModeOf, reapAfterMs } = this.options;
    const snapshot = await snapshotRegistry(registry, gaugeModeOf);

    const changed: [string, number][] = [];
    for (const [field, current] of snapshot.series) {
      const value = current - (this.baseline.get(field) ?? 0);
      if (!Object.is(this.written.get(field), value)) changed.push([field, value]);
    }
    const removed = [...this.removable].filter((field) => !snapshot.series.has(field));
    const metadata: [string, MetricMeta][] = [];
    const metadataJson = new Map<string, string>();
    for (const [name, meta] of snapshot.metadata) {
      const json = JSON.stringify(meta);
      metadataJson.set(name, json);
      if (this.writtenMetadata.get(name) !== json) metadata.push([name, meta]);
    }

    const result = await store.write(identity, {
      series: changed,
      metadata,
      deletes: removed,
      expectRegistered: this.registered,
      staleAfterMs: reapAfterMs,
    });
    if (result.reaped && !retried) {
      // Another process took this one for dead and archived its counts: count on from there.
      this.options.logger?.warn(
        `Process ${identity.id} was reaped as dead while running (no heartbeat for ${reapAfterMs} ms); its counters continue from the archive.`,
      );
      this.rebase();
      return this.writeChanges(true);
    }
    if (result.lost && !retried) {
      // Redis restarted empty or was flushed: write every series again.
      this.options.logger?.warn(
        `Redis lost the metrics of ${identity.id}; writing all its series again.`,
      );
      this.resync();
      this.registered = false;
      return this.writeChanges(true);
    }

    this.registered = true;
    for (const [field, value] of changed) this.written.set(field, value);
    for (const field of removed) {
      this.written.delete(field);
      this.removable.delete(field);
    }
    for (const field of snapshot.removable) this.removable.add(field);
    for (const [name] of metadata) this.writtenMetadata.set(name, metadataJson.get(name)!);
    this.lastSuccessAt = Date.now();

    const reaped = await this.reap(result.stale);
    return {
      ok: true,
      sent: changed.length,
      written: result.written,
      removed: removed.length,
      heartbeat: result.heartbeat,
      reaped,
    };
  }

  /** Folds processes whose heartbeat is older than the TTL; each fold re-checks that atomically. */
  private async reap(stale: string[]): Promise<number> {
    const { store, identity, reapAfterMs, logger } = this.options;
    let reaped = 0;
    for (const processId of stale) {
      if (processId === identity.id || reapAfterMs === undefined) continue;
      const folded = await store.fold(processId, reapAfterMs);
      if (folded >= 0) {
        reaped += 1;
        logger?.log(`Reaped dead process ${processId}: ${folded} series folded into the archive.`);
      }
    }
    return reaped;
  }

  /**
   * After this process's series went to the archive: remember the counter-like values handed over as
   * the new baseline and write everything afresh.
   */
  private rebase(): void {
    for (const [field, value] of this.written) {
      if (!this.removable.has(field))
        this.baseline.set(field, (this.baseline.get(field) ?? 0) + value);
    }
    this.resync();
    this.registered = false;
  }

  /** Logs when flushing starts failing and when it recovers, not on every failed tick. */
  private report(result: FlushResult): void {
    const logger = this.options.logger;
    if (!result.ok && !this.failing) {
      this.failing = true;
      logger?.warn(
        `Flushing metrics to Redis failed; counting goes on in memory and is retried every ${this.options.intervalMs} ms: ${result.error?.message}`,
      );
    } else if (result.ok && this.failing) {
      this.failing = false;
      logger?.log('Flushing metrics to Redis works again.');
    }
  }
}
