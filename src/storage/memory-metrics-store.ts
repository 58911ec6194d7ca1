import { gaugeModeDeclarations, MARKER, type Labels } from './keys.js';
import type {
  MetricsStore,
  ProcessIndex,
  ReadOptions,
  RebaseRequest,
  SeriesBatch,
  StoredMarkers,
  StoreSnapshot,
  WriteReply,
  WriterIdentity,
} from './metrics-store.js';
import {
  addPacked,
  decodeNumber,
  decodePacked,
  encodeNumber,
  encodePacked,
  packedDelta,
} from './packed-values.js';
import { parseProcessInfo } from './process-identity.js';
import { SeriesSelection } from './series-selection.js';

const DAY_MS = 86_400_000;

/**
 * Series kept in the memory of one process, with the semantics of the Redis scripts (markers, totals,
 * tombstones): for a cluster primary whose workers write to it over IPC when there is no Redis. Its
 * data lives as long as that process.
 */
export class MemoryMetricsStore implements MetricsStore {
  // In a cluster primary that is the primary's; a single process (the sample with WORKERS=0) keeps its own.
  readonly description = "this process's memory";
  private readonly processes = new Map<string, number>();
  private readonly info = new Map<string, string>();
  private readonly metadata = new Map<string, string>();
  private readonly totals = new Map<string, string>();
  private readonly gauges = new Map<string, Map<string, string>>();
  private readonly counters = new Map<string, Map<string, string>>();
  private readonly ended = new Map<string, { at: number; seq: string }>();
  private readonly exemplars = new Map<string, string>();

  constructor(private readonly clock: () => number = Date.now) {}

  async write(identity: WriterIdentity, batch: SeriesBatch): Promise<WriteReply> {
    const now = this.clock();
    const stale = batch.staleAfterMs === undefined ? [] : this.staleIds(now - batch.staleAfterMs);
    const markers = this.markersOf(identity.id);
    const expected = batch.expectedSeq === 0 ? null : batch.expectedSeq;
    const { counters: c, gauges: g, totals: t, metadata: m } = markers;
    const live = () =>
      batch.livenessWindowMs === undefined
        ? {}
        : {
            live: [...this.processes.values()].filter(
              (heartbeat) => heartbeat > now - batch.livenessWindowMs!,
            ).length,
          };
    // As the script: an ended process writes again only after a rebase removed its tombstone.
    if (
      c !== expected ||
      g !== expected ||
      t !== expected ||
      m !== expected ||
      markers.ended !== null
    ) {
      return { status: 'mismatch', now, stale, wrongType: [], markers, ...live() };
    }

    this.register(identity, now);
    for (const [name, meta] of batch.metadata ?? []) this.metadata.set(name, JSON.stringify(meta));
    const gauges = this.ownHash(this.gauges, identity.id);
    for (const [field, { value, timestamp }] of batch.gauges ?? []) {
      gauges.set(field, `${encodeNumber(value)} ${encodeNumber(timestamp ?? now)}`);
    }
    for (const [field, text] of batch.windows ?? []) gauges.set(field, text);
    for (const [field, mode] of gaugeModeDeclarations(batch.metadata))
      gauges.set(field, `${mode} ${now}`);
    // As the script: one hash, its deletions (either list) after all its values.
    for (const field of batch.gaugeDeletes ?? []) gauges.delete(field);
    for (const field of batch.windowDeletes ?? []) gauges.delete(field);
    for (const name of batch.withdrawnMetrics ?? []) gauges.delete(MARKER.gaugeMode(name));
    const counters = this.ownHash(this.counters, identity.id);
    const counting = (batch.counterMode ?? 'count') === 'count';
    for (const [field, packed] of batch.counters ?? []) {
      const old = counters.get(field);
      if (old === packed) continue;
      if (counting) this.addDifference(field, packed, old);
      counters.set(field, packed);
    }
    for (const field of batch.counterDeletes ?? []) counters.delete(field);
    for (const [field, text] of batch.exemplars ?? []) this.keepLatestExemplar(field, text);
    this.setMarkers(identity.id, batch.seq);
    return { status: 'applied', now, stale, wrongType: [], ...live() };
  }

  async rebase(identity: WriterIdentity, request: RebaseRequest): Promise<WriteReply> {
    const now = this.clock();
    this.gauges.delete(identity.id);
    if (!request.keepCounters) this.counters.delete(identity.id);
    this.ended.delete(identity.id);
    if (request.markLost) this.totals.set(MARKER.lostAt, String(now));
    this.register(identity, now);
    this.setMarkers(identity.id, request.seq);
    return { status: 'applied', now, stale: [], wrongType: [] };
  }

  async end(processId: string, staleAfterMs?: number): Promise<'ended' | 'absent' | 'alive'> {
    const now = this.clock();
    const heartbeat = this.processes.get(processId);
    if (staleAfterMs !== undefined && heartbeat !== undefined && heartbeat >= now - staleAfterMs) {
      return 'alive';
    }
    const marker = MARKER.processSeq(processId);
    const seq = this.totals.get(marker);
    this.processes.delete(processId);
    this.info.delete(processId);
    this.gauges.delete(processId);
    this.counters.delete(processId);
    this.totals.delete(marker);
    this.metadata.delete(marker);
    if (seq !== undefined) this.ended.set(processId, { at: now, seq });
    // Ended before any write of it arrived (or ended again: its tombstone stays as it is).
    else if (!this.ended.has(processId)) this.ended.set(processId, { at: now, seq: '0' });
    for (const [id, { at }] of this.ended) if (at < now - DAY_MS) this.ended.delete(id);
    return heartbeat === undefined ? 'absent' : 'ended';
  }

  async heldWrite(processId: string): Promise<number | null> {
    const seq = this.ended.get(processId)?.seq ?? this.totals.get(MARKER.processSeq(processId));
    // A tombstone of '0': the process was ended before the totals held any write of it.
    return seq === undefined || seq === '0' ? null : Number(seq);
  }

  async read(options: ReadOptions = {}): Promise<StoreSnapshot> {
    const ordered = byHeartbeat([...this.processes]);
    const snapshot: StoreSnapshot = {
      now: this.clock(),
      wrongType: [],
      processes: ordered.flatMap(([id, heartbeat]) => [id, String(heartbeat)]),
      info: pairs(this.info),
      metadata: pairs(this.metadata),
      totals: pairs(this.totals),
      gauges: ordered.map(([id]) => pairs(this.gauges.get(id) ?? new Map())),
    };
    if (options.exemplars) snapshot.exemplars = pairs(this.exemplars);
    return snapshot;
  }

  async deleteSeries(metricName: string, labels?: Labels): Promise<number> {
    const selection = new SeriesSelection(metricName, labels);
    let deleted = 0;
    for (const field of [...this.totals.keys()]) {
      if (selection.holdsSeries(field) && this.totals.delete(field)) deleted += 1;
    }
    for (const field of [...this.exemplars.keys()]) {
      if (selection.holdsExemplar(field)) this.exemplars.delete(field);
    }
    return deleted;
  }

  async processIndex(): Promise<ProcessIndex> {
    return {
      now: this.clock(),
      processes: byHeartbeat([...this.processes]).map(([id, heartbeat]) => ({
        id,
        heartbeat,
        info: parseProcessInfo(this.info.get(id)),
      })),
    };
  }

  private markersOf(id: string): StoredMarkers {
    const seq = (text: string | undefined) => (text === undefined ? null : Number(text));
    const marker = MARKER.processSeq(id);
    return {
      counters: seq(this.counters.get(id)?.get(MARKER.seq)),
      gauges: seq(this.gauges.get(id)?.get(MARKER.seq)),
      totals: seq(this.totals.get(marker)),
      metadata: seq(this.metadata.get(marker)),
      ended: seq(this.ended.get(id)?.seq),
    };
  }

  private setMarkers(id: string, seq: number): void {
    const text = String(seq);
    this.ownHash(this.counters, id).set(MARKER.seq, text);
    this.ownHash(this.gauges, id).set(MARKER.seq, text);
    this.totals.set(MARKER.processSeq(id), text);
    this.metadata.set(MARKER.processSeq(id), text);
  }

  private register(identity: WriterIdentity, now: number): void {
    this.processes.set(identity.id, now);
    if (!this.info.has(identity.id)) this.info.set(identity.id, JSON.stringify(identity.info()));
  }

  private addDifference(field: string, packed: string, old: string | undefined): void {
    const next = decodePacked(packed);
    if (!next) return;
    const delta = packedDelta(next, old === undefined ? undefined : decodePacked(old));
    const stored = this.totals.get(field);
    const total = stored === undefined ? undefined : decodePacked(stored);
    const sum = addPacked(total, delta);
    // As the script: nothing to write when no slot changed or was added (NaN and infinite deltas
    // are left out of the sum).
    const unchanged =
      total !== undefined &&
      sum.size === total.size &&
      [...sum].every(([slot, value]) => Object.is(total.get(slot), value));
    // A total whose every bound went (a writer with none of them) is left empty, as the script does.
    if (unchanged || (sum.size === 0 && total === undefined)) return;
    this.totals.set(field, encodePacked(sum));
  }

  /** As the write script: an exemplar replaces the stored one only if its timestamp is later. */
  private keepLatestExemplar(field: string, text: string): void {
    const at = leadingNumber(text);
    if (at === undefined) return;
    const old = this.exemplars.get(field);
    const oldAt = old === undefined ? undefined : leadingNumber(old);
    if (oldAt === undefined || at > oldAt) this.exemplars.set(field, text);
  }

  private ownHash(hashes: Map<string, Map<string, string>>, id: string): Map<string, string> {
    let hash = hashes.get(id);
    if (!hash) hashes.set(id, (hash = new Map()));
    return hash;
  }

  /** Up to 16, the longest silent first, as the write script reports them. */
  private staleIds(before: number): string[] {
    return byHeartbeat([...this.processes].filter(([, heartbeat]) => heartbeat < before))
      .slice(0, 16)
      .map(([id]) => id);
  }
}

/** The first number of a text, if finite (what Lua's `tonumber` reads of it). */
function leadingNumber(text: string): number | undefined {
  const space = text.indexOf(' ');
  const value = decodeNumber(space === -1 ? text : text.slice(0, space));
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

/** Processes (id, heartbeat) oldest heartbeat first, ties by id: the order of Redis's index. */
function byHeartbeat(processes: [string, number][]): [string, number][] {
  return processes.sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1));
}

function pairs(map: Map<string, string>): string[] {
  const flat: string[] = [];
  for (const [key, value] of map) flat.push(key, value);
  return flat;
}
