import { hideCommandCredentials } from '../command-credentials.js';
import { failUnlessClusterReady } from './cluster-readiness.js';
import { explainRedisError } from './describe-redis-error.js';
import { HSCAN_COUNT, isWrongTypeError, scanHash, type ScannedHash } from './hash-scan.js';
import { gaugeModeDeclarations, MARKER, PrefixKeys, type Labels } from './keys.js';
import { withScripts, type RedisClient, type WriteScriptReply } from './lua-scripts.js';
import type {
  IndexedProcess,
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
import { decodeNumber, encodeNumber } from './packed-values.js';
import { parseProcessInfo } from './process-identity.js';
import { SeriesSelection } from './series-selection.js';
import { MAX_SCAN_ATTEMPTS, scanWholeHash } from './whole-hash-scan.js';

/**
 * Series kept in Redis under one prefix, through the module's Lua scripts. A call rejects with the
 * client's error, the password of a refused HELLO or AUTH on it replaced by `***`: a client refused by
 * the server rejects the commands queued behind its handshake with the handshake's own error.
 */
export class RedisMetricsStore implements MetricsStore {
  /** The Redis keys of the store's prefix (see docs/redis-layout.md). */
  readonly keys: PrefixKeys;
  readonly description: string;
  /**
   * Whether the server refused INFO to the read head (an ACL user without it): reads then no longer
   * ask, since every refusal is an entry in the server's ACL LOG and its count of denied commands.
   */
  private serverIdRefused = false;

  constructor(
    /** The Redis client every call goes through. */
    readonly client: RedisClient,
    keyPrefix: string,
  ) {
    this.keys = new PrefixKeys(keyPrefix);
    this.description = `Redis under prefix "${keyPrefix}"`;
  }

  async write(identity: WriterIdentity, batch: SeriesBatch): Promise<WriteReply> {
    // Each list goes as one argument of lines (see the write script): encoding one string is far
    // cheaper for ioredis than two arguments per series. Lines are joined once, not appended one by
    // one: appending builds a chain of partial strings that is copied again when sent.
    const metadata = lines(batch.metadata ?? [], (meta) => JSON.stringify(meta));
    // Summary windows live in the gauges hash too: the same list, and the same list of deletions.
    const gauges = [
      lines(batch.gauges ?? [], ({ value, timestamp }) =>
        timestamp === undefined
          ? encodeNumber(value)
          : `${encodeNumber(value)} ${encodeNumber(timestamp)}`,
      ),
      lines(batch.windows ?? [], (text) => text),
      // The script stamps each with its clock, as a gauge sent without a time.
      lines(gaugeModeDeclarations(batch.metadata), (mode) => mode),
    ]
      .filter((list) => list !== '')
      .join('\n');
    const gaugeDeletes = [
      ...(batch.gaugeDeletes ?? []),
      ...(batch.windowDeletes ?? []),
      ...(batch.withdrawnMetrics ?? []).map(MARKER.gaugeMode),
    ].join('\n');
    const counters = lines(batch.counters ?? [], (packed) => packed);
    const exemplars = lines(batch.exemplars ?? [], (text) => text);

    const reply = await withoutCredentials(
      withScripts(this.writer()).nrmWrite(
        ...this.processKeys(identity.id),
        identity.id,
        JSON.stringify(identity.info()),
        String(batch.expectedSeq),
        String(batch.seq),
        batch.staleAfterMs === undefined ? '' : String(batch.staleAfterMs),
        batch.counterMode ?? 'count',
        batch.livenessWindowMs === undefined ? '' : String(batch.livenessWindowMs),
        metadata,
        gauges,
        gaugeDeletes,
        counters,
        (batch.counterDeletes ?? []).join('\n'),
        exemplars,
      ),
    );
    return parseWriteReply(reply);
  }

  async rebase(identity: WriterIdentity, request: RebaseRequest): Promise<WriteReply> {
    const reply = await withoutCredentials(
      withScripts(this.writer()).nrmRebase(
        ...this.processKeys(identity.id),
        identity.id,
        JSON.stringify(identity.info()),
        String(request.seq),
        request.keepCounters ? '1' : '0',
        request.markLost ? '1' : '0',
      ),
    );
    return parseWriteReply(reply);
  }

  async end(processId: string, staleAfterMs?: number): Promise<'ended' | 'absent' | 'alive'> {
    const result = await withoutCredentials(
      withScripts(this.writer()).nrmEnd(
        ...this.processKeys(processId),
        processId,
        staleAfterMs === undefined ? '' : String(staleAfterMs),
      ),
    );
    return result === 1 ? 'ended' : result === -1 ? 'alive' : 'absent';
  }

  async heldWrite(processId: string): Promise<number | null> {
    const client = this.writer();
    // The end script moves the totals marker to the tombstone at once: one of them holds it.
    const [ended, live] = await withoutCredentials(
      Promise.all([
        client.hget(this.keys.endedSeq, processId),
        client.hget(this.keys.totals, MARKER.processSeq(processId)),
      ]),
    );
    const seq = ended ?? live;
    // A tombstone of '0': the process was ended before the totals held any write of it.
    return seq === null || seq === '0' ? null : Number(seq);
  }

  read(options: ReadOptions = {}): Promise<StoreSnapshot> {
    return withoutCredentials(this.readSnapshot(options));
  }

  /**
   * Deletes in bounded HSCAN calls and HDEL (see {@link MetricsStore.deleteSeries}). Rejects, never
   * throws, as every call of a store: a Redis Cluster client that is not ready fails each command.
   */
  async deleteSeries(metricName: string, labels?: Labels): Promise<number> {
    const selection = new SeriesSelection(metricName, labels);
    const field = selection.seriesField;
    const totals = async () =>
      field === undefined
        ? this.deleteMatching(this.keys.totals, selection, (f) => selection.holdsSeries(f))
        : this.writer().hdel(this.keys.totals, field);
    // An exemplars key of another type holds none of the module's (the next write deletes it, and
    // scrapes read it as none): the counts are deleted all the same.
    const exemplars = this.deleteMatching(this.keys.exemplars, selection, (f) =>
      selection.holdsExemplar(f),
    ).catch((error: unknown) => {
      if (isWrongTypeError(error)) return 0;
      throw error;
    });
    const [deleted] = await withoutCredentials(Promise.all([totals(), exemplars]));
    return deleted;
  }

  /**
   * Deletes the fields of a hash that `holds`, found in bounded HSCAN calls, so no call stops Redis.
   * The scan starts again when another server process answered part of it (a failover or a restart,
   * see {@link scanWholeHash}): a cursor carried over would leave part of the selection undeleted. Each
   * field is deleted by a command of its own, so a field found again (its deletion lost with the old
   * server) counts once.
   */
  private async deleteMatching(
    key: string,
    selection: SeriesSelection,
    holds: (field: string) => boolean,
  ): Promise<number> {
    const client = this.writer();
    const deleted = new Set<string>();
    const batches = scanWholeHash(client, key, {
      args: ['MATCH', selection.matchPattern, 'COUNT', HSCAN_COUNT],
      askServerId: !this.serverIdRefused,
      onServerIdRefused: () => (this.serverIdRefused = true),
      description: `${this.description}: deleting from "${key}"`,
      hint: 'part of the series may be deleted; deleting again deletes the rest',
    });
    for await (const flat of batches) {
      const pipeline = client.pipeline();
      const fields: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (!holds(flat[i])) continue;
        fields.push(flat[i]);
        pipeline.hdel(key, flat[i]);
      }
      if (fields.length === 0) continue;
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];
      replies.forEach(([, removed], i) => removed === 1 && deleted.add(fields[i]));
    }
    return deleted.size;
  }

  /**
   * A read of which every hash read in several HSCAN calls was read on one server process. A cursor
   * carried to another (a failover or a restart between two calls) skips part of the hash there, and
   * the scrape would serve a total without those series; the read is then made again, from the start.
   */
  private async readSnapshot(options: ReadOptions): Promise<StoreSnapshot> {
    for (let attempt = 1; ; attempt += 1) {
      const snapshot = await this.readOnce(options);
      if (snapshot) return snapshot;
      if (attempt === MAX_SCAN_ATTEMPTS) {
        throw new Error(
          `${this.description}: another Redis server answered part of each of ${MAX_SCAN_ATTEMPTS} reads (a failover or a restart)`,
        );
      }
    }
  }

  /** One read; `undefined` when another server process answered part of it. */
  private async readOnce(options: ReadOptions): Promise<StoreSnapshot | undefined> {
    const { processes, processInfo, metadata, totals, exemplars } = this.keys;
    const client = this.writer();
    const [now, wrongType, processList, info, metadataPairs, serverId, born] = await withScripts(
      client,
    ).nrmReadHead(processes, processInfo, metadata, totals, this.serverIdRefused ? '0' : '1');
    if (serverId === '') this.serverIdRefused = true;
    const ids = processList.filter((_, i) => i % 2 === 0);
    // The totals and every process's gauges are read in bounded HSCAN calls, all at once: ioredis
    // pipelines them on the connection.
    const [totalsScan, exemplarScan, ...gaugeScans] = await Promise.all([
      scanHash(client, totals),
      options.exemplars ? scanHash(client, exemplars) : undefined,
      ...ids.map((id) => scanHash(client, this.keys.gauges(id))),
    ]);
    const wrong = [...wrongType];
    if (totalsScan!.wrongType) wrong.push(totals);
    if (exemplarScan?.wrongType) wrong.push(exemplars);
    gaugeScans.forEach((scan, i) => scan!.wrongType && wrong.push(this.keys.gauges(ids[i])));
    const snapshot: StoreSnapshot = {
      now: Number(now),
      wrongType: wrong,
      processes: processList,
      info,
      metadata: metadataPairs,
      totals: totalsScan!.pairs,
      gauges: gaugeScans.map((scan) => scan!.pairs),
    };
    if (totalsScan!.wrongType) snapshot.totalsWrongType = true;
    if (exemplarScan) snapshot.exemplars = exemplarScan.pairs;
    const scans = [totalsScan!, ...(exemplarScan ? [exemplarScan] : [])];
    const cut = await this.cutScans(scans, gaugeScans as ScannedHash[], ids, born, serverId !== '');
    // Another server answered the end of the read than its head: some scan may have spanned both.
    const moved = cut.serverId !== undefined && cut.serverId !== serverId;
    if (moved) return undefined;
    const notUtf8: [string, number][] = [
      [totals, totalsScan!.notUtf8],
      [exemplars, exemplarScan?.notUtf8 ?? 0],
      ...ids
        .map((id, i): [string, number] => [this.keys.gauges(id), gaugeScans[i]!.notUtf8])
        .filter((_, i) => !cut.ended.has(ids[i])),
    ];
    if (notUtf8.some(([, fields]) => fields > 0)) {
      snapshot.notUtf8 = notUtf8.filter(([, fields]) => fields > 0);
    }
    if (cut.ended.size > 0) leaveOut(snapshot, cut.ended);
    if (cut.totals || cut.gauges.length > 0) {
      snapshot.partial = { totals: cut.totals, gauges: cut.gauges };
    }
    return snapshot;
  }

  /**
   * Which hashes read in several HSCAN calls were deleted (evicted, expired) before the read ended, so
   * that only part of them was read; a process whose gauges went so and that is no longer indexed ended
   * meanwhile (the end script deletes both), which is no loss. One script call (see `READ_END`),
   * made only when some hash took more than one call, with the id of the server process that answers
   * it (`undefined` when none was asked: every hash was read in one call, which is whole
   * wherever it ran). Totals deleted and made again before the read ended (by any process's write,
   * a first write too, which records no loss) hold another stamp than the read head saw, and count
   * as cut as well.
   */
  private async cutScans(
    shared: ScannedHash[],
    gauges: ScannedHash[],
    ids: string[],
    born: string,
    askServerId: boolean,
  ): Promise<{ totals: boolean; gauges: string[]; ended: Set<string>; serverId?: string }> {
    const [totals] = shared;
    const scanned = ids.filter((_, i) => gauges[i].calls > 1);
    const checked = [
      ...(totals.calls > 1 ? [this.keys.totals] : []),
      ...scanned.map((id) => this.keys.gauges(id)),
    ];
    if (checked.length === 0 && (!askServerId || shared.every((scan) => scan.calls === 1))) {
      return { totals: false, gauges: [], ended: new Set() };
    }
    // One script on the node holding every key, never a pipeline: see the read-end script.
    const checkTotals = totals.calls > 1;
    const [totalsGone, present, heartbeats, bornNow, serverIdNow] = await withScripts(this.client)
      .nrmReadEnd(
        2 + scanned.length,
        this.keys.totals,
        this.keys.processes,
        ...scanned.map((id) => this.keys.gauges(id)),
        askServerId ? '1' : '0',
        checkTotals ? '1' : '0',
        ...scanned,
      )
      .catch((error: unknown) => {
        throw explainRedisError(error, this.client);
      });
    const cut = scanned.filter((_, i) => present[i] === 0);
    const indexed = new Set(scanned.filter((_, i) => heartbeats[i] !== ''));
    const bornAfter = checkTotals ? bornNow : born;
    return {
      totals: totalsGone === 1 || bornAfter !== born,
      gauges: cut.filter((id) => indexed.has(id)),
      ended: new Set(cut.filter((id) => !indexed.has(id))),
      serverId: askServerId ? String(serverIdNow) : undefined,
    };
  }

  processIndex(): Promise<ProcessIndex> {
    return withoutCredentials(this.readIndex());
  }

  private async readIndex(): Promise<ProcessIndex> {
    const reply = await this.client
      .pipeline()
      .time()
      .zrange(this.keys.processes, '0', '-1', 'WITHSCORES')
      .hgetall(this.keys.processInfo)
      .exec();
    const [[timeError, time], [indexError, list], [infoError, info]] = reply ?? [];
    const error = timeError ?? indexError ?? infoError;
    if (error) throw explainRedisError(error, this.client);
    const [seconds, micros] = time as [string, string];
    const infoById = info as Record<string, string>;
    const entries = list as string[];
    const processes: IndexedProcess[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      processes.push({
        id: entries[i],
        // Redis writes an infinite score as 'inf', which Number() reads as NaN.
        heartbeat: decodeNumber(entries[i + 1]) ?? NaN,
        info: parseProcessInfo(infoById[entries[i]]),
      });
    }
    return { now: Number(seconds) * 1000 + Number(micros) / 1000, processes };
  }

  /**
   * The client, for a write or a scrape's read; a Redis Cluster client that is not ready fails it at
   * once (see {@link failUnlessClusterReady}), and the flusher tries again on its timer.
   */
  private writer(): RedisClient {
    failUnlessClusterReady(this.client);
    return this.client;
  }

  private processKeys(processId: string): string[] {
    const k = this.keys;
    return [
      k.processes,
      k.processInfo,
      k.metadata,
      k.totals,
      k.gauges(processId),
      k.counters(processId),
      k.ended,
      k.endedSeq,
      k.exemplars,
    ];
  }
}

/** Takes processes that ended while the snapshot was read out of it, as a later read would not see them. */
function leaveOut(snapshot: StoreSnapshot, ended: Set<string>): void {
  const processes: string[] = [];
  const gauges: string[][] = [];
  for (let i = 0; i < snapshot.processes.length; i += 2) {
    if (ended.has(snapshot.processes[i])) continue;
    processes.push(snapshot.processes[i], snapshot.processes[i + 1]);
    gauges.push(snapshot.gauges[i / 2]);
  }
  snapshot.processes = processes;
  snapshot.gauges = gauges;
}

/** What `work` resolves with, or its rejection with the password of a refused handshake hidden. */
async function withoutCredentials<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    hideCommandCredentials(error);
    throw error;
  }
}

/** Pairs as lines: each key, then its value's text. */
function lines<T>(pairs: readonly (readonly [string, T])[], text: (value: T) => string): string {
  const parts = new Array<string>(pairs.length * 2);
  for (let i = 0; i < pairs.length; i += 1) {
    parts[2 * i] = pairs[i][0];
    parts[2 * i + 1] = text(pairs[i][1]);
  }
  return parts.join('\n');
}

function parseWriteReply([
  status,
  now,
  stale,
  wrongType,
  markers,
  live,
]: WriteScriptReply): WriteReply {
  const reply: WriteReply = {
    status: status === 'applied' ? 'applied' : 'mismatch',
    now: Number(now),
    stale,
    wrongType,
  };
  if (live >= 0) reply.live = live;
  if (reply.status === 'mismatch') reply.markers = parseMarkers(markers);
  return reply;
}

function parseMarkers([counters, gauges, totals, metadata, ended]: string[]): StoredMarkers {
  const seq = (text: string | undefined) => (text ? Number(text) : null);
  return {
    counters: seq(counters),
    gauges: seq(gauges),
    totals: seq(totals),
    metadata: seq(metadata),
    ended: seq(ended),
  };
}
