import { parseSeriesField, type MetricMeta } from './keys.js';
import type { MetricsStore, ProcessHeartbeats, RawPrefixReply } from './metrics-store.js';
import type { ProcessIdentity } from './process-identity.js';
import { encodeNumber } from './stored-value.js';
import type { SeriesWrite, SeriesWriteResult } from './write-series.js';

const DAY_MS = 86_400_000;

/**
 * Series kept in the memory of one process, with the semantics of the Redis scripts: for a cluster
 * primary whose workers write to it over IPC when there is no Redis. Its data lives as long as that
 * process; everything else (identities, change detection, archive, liveness) is as with Redis.
 */
export class MemoryMetricsStore implements MetricsStore {
  readonly description = 'the memory of the cluster primary';
  private readonly processes = new Map<string, number>();
  private readonly processInfo = new Map<string, string>();
  private readonly values = new Map<string, Map<string, string>>();
  private readonly metadata = new Map<string, string>();
  private readonly archive = new Map<string, number>();
  private readonly reaped = new Map<string, number>();

  constructor(private readonly clock: () => number = Date.now) {}

  async write(
    identity: Pick<ProcessIdentity, 'id' | 'info'>,
    write: SeriesWrite,
  ): Promise<SeriesWriteResult> {
    const now = this.clock();
    const stale = write.staleAfterMs === undefined ? [] : this.staleIds(now - write.staleAfterMs);
    if (write.expectRegistered && !this.processes.has(identity.id)) {
      const reaped = this.reaped.has(identity.id);
      return { written: 0, heartbeat: now, reaped, lost: !reaped, stale };
    }
    if (!this.processes.has(identity.id))
      this.processInfo.set(identity.id, JSON.stringify(identity.info()));
    this.processes.set(identity.id, now);
    for (const [name, meta] of write.metadata ?? []) this.metadata.set(name, JSON.stringify(meta));
    const values = this.values.get(identity.id) ?? new Map<string, string>();
    this.values.set(identity.id, values);
    for (const field of write.deletes ?? []) values.delete(field);
    const stamp = encodeNumber(write.timestamp ?? now);
    let written = 0;
    for (const [field, value] of write.series) {
      const text = encodeNumber(value);
      if (values.get(field)?.startsWith(`${text} `)) continue;
      values.set(field, `${text} ${stamp}`);
      written += 1;
    }
    return { written, heartbeat: now, reaped: false, lost: false, stale };
  }

  async fold(processId: string, staleAfterMs?: number): Promise<number> {
    const now = this.clock();
    const heartbeat = this.processes.get(processId);
    if (staleAfterMs !== undefined && heartbeat !== undefined && heartbeat >= now - staleAfterMs)
      return -1;
    let folded = 0;
    for (const [field, text] of this.values.get(processId) ?? []) {
      const parts = parseSeriesField(field);
      const value = Number(text.split(' ')[0]);
      if (
        !parts ||
        !Number.isFinite(value) ||
        !this.isCumulative(parts.metricName, parts.sampleName)
      )
        continue;
      this.archive.set(field, (this.archive.get(field) ?? 0) + value);
      folded += 1;
    }
    this.values.delete(processId);
    this.processes.delete(processId);
    this.processInfo.delete(processId);
    this.reaped.set(processId, now);
    for (const [id, when] of this.reaped) if (when < now - DAY_MS) this.reaped.delete(id);
    return folded;
  }

  async read(): Promise<RawPrefixReply> {
    const ordered = [...this.processes].sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1));
    const pairs = (map: Map<string, string | number>) =>
      [...map].flatMap(([k, v]) => [k, String(v)]);
    return [
      String(this.clock()),
      [],
      ordered.flatMap(([id, heartbeat]) => [id, String(heartbeat)]),
      pairs(this.processInfo),
      pairs(this.metadata),
      pairs(this.archive),
      ...ordered.map(([id]) => pairs(this.values.get(id) ?? new Map())),
    ];
  }

  async heartbeats(): Promise<ProcessHeartbeats> {
    return { now: this.clock(), heartbeats: new Map(this.processes) };
  }

  private staleIds(before: number): string[] {
    return [...this.processes]
      .filter(([, heartbeat]) => heartbeat < before)
      .slice(0, 16)
      .map(([id]) => id);
  }

  /** Counters, histograms and summary count/sum go to the archive; gauges and quantiles do not. */
  private isCumulative(metricName: string, sampleName: string): boolean {
    let type: MetricMeta['type'] | undefined;
    try {
      type = (JSON.parse(this.metadata.get(metricName) ?? '{}') as Partial<MetricMeta>).type;
    } catch {
      return false;
    }
    return (
      type === 'counter' ||
      type === 'histogram' ||
      (type === 'summary' && sampleName !== metricName)
    );
  }
}
