import { PrefixKeys } from './keys.js';
import { withScripts, type RedisClient } from './lua-scripts.js';
import { encodeNumber } from './packed-values.js';
import { ProcessIdentity } from './process-identity.js';
import { RedisMetricsStore } from './redis-metrics-store.js';
import { decodeStoredValue, type StoredValue } from './stored-value.js';
import { scanWholeHash } from './whole-hash-scan.js';

/** Options of a {@link RedisStorageDict}. */
export interface RedisStorageDictOptions {
  /** Prefix of every key (see `RedisMetricsOptions.keyPrefix`). */
  keyPrefix: string;
  /** The process whose series this dictionary holds; default: a fresh identity of this process. */
  identity?: ProcessIdentity;
}

/** What {@link RedisStorageDict.update} accepts. */
export type StorageEntries =
  Iterable<readonly [string, number | StoredValue]> | Record<string, number | StoredValue>;

/**
 * The raw per-process values of one process under one prefix, as an async dictionary: series field ->
 * value and timestamp. The counterpart of the Python original's `RedisStorageDict`.
 *
 * It holds what a scrape reads per process: the process's gauges hash (a metric's series are merged by
 * the gauge mode its metadata names). Counters, histograms and summaries of the module's flush go to
 * the prefix's shared totals instead, which this dictionary does not touch. Every write goes through
 * one atomic script that stamps values with Redis server time and registers the process in the
 * prefix's index, so no value is ever stored where a scrape cannot find it.
 */
export class RedisStorageDict implements AsyncIterable<string> {
  /** The keys of this dictionary's prefix. */
  readonly prefixKeys: PrefixKeys;
  /** The process whose series this dictionary holds. */
  readonly identity: ProcessIdentity;
  private readonly valuesKey: string;
  /** Whether INFO was refused (an ACL user without it): each refusal is an entry in the ACL LOG. */
  private serverIdRefused = false;

  constructor(
    private readonly client: RedisClient,
    options: RedisStorageDictOptions,
  ) {
    this.prefixKeys = new PrefixKeys(options.keyPrefix);
    this.identity = options.identity ?? ProcessIdentity.create();
    this.valuesKey = this.prefixKeys.gauges(this.identity.id);
  }

  /** The value and timestamp of a series; `{ value: 0, timestamp: 0 }` when it is not stored (as the original). */
  async readValue(key: string): Promise<StoredValue> {
    return (await this.get(key)) ?? { value: 0, timestamp: 0 };
  }

  /** Stores a value, stamped with `timestamp` (ms) or else Redis server time. */
  async writeValue(key: string, value: number, timestamp?: number): Promise<void> {
    await this.store([[key, value, timestamp]]);
  }

  /**
   * Ends another process of this prefix now: its per-process values and state go, its counts stay in
   * the totals (see the end script).
   * @returns whether that process was stored.
   */
  async cleanupDeadWorker(processId: string): Promise<boolean> {
    const store = new RedisMetricsStore(this.client, this.prefixKeys.prefix);
    return (await store.end(processId)) === 'ended';
  }

  /** The value and timestamp of a series, or `undefined` when it is not stored or not readable. */
  async get(key: string): Promise<StoredValue | undefined> {
    const text = await this.client.hget(this.valuesKey, key);
    return text === null ? undefined : decodeStoredValue(text);
  }

  /** Stores a value; a plain number is stamped with Redis server time. */
  async set(key: string, value: number | StoredValue): Promise<void> {
    await this.update([[key, value]]);
  }

  /** Removes a series. @returns whether it was stored. */
  async delete(key: string): Promise<boolean> {
    return (await this.client.hdel(this.valuesKey, key)) === 1;
  }

  /** Whether a series is stored. */
  async has(key: string): Promise<boolean> {
    return (await this.client.hexists(this.valuesKey, key)) === 1;
  }

  /** The number of stored series. */
  async size(): Promise<number> {
    return this.client.hlen(this.valuesKey);
  }

  /**
   * Iterates over the series fields in batches (HSCAN), without loading their values all at once (the
   * fields yielded are kept, to yield each once). When another Redis server process answered part of
   * the scan (a failover or a restart between two calls) the scan is made again and only fields not yet
   * yielded come; the iteration rejects after three such scans.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for await (const [key] of this.scanEntries()) yield key;
  }

  /** Every series field. */
  async keys(): Promise<string[]> {
    return (await this.entries()).map(([key]) => key);
  }

  /** Every stored value. */
  async values(): Promise<StoredValue[]> {
    return (await this.entries()).map(([, value]) => value);
  }

  /** Every series with its value; entries that cannot be read are left out. */
  async entries(): Promise<[string, StoredValue][]> {
    const all = await this.client.hgetall(this.valuesKey);
    return decodeEntries(Object.entries(all));
  }

  /**
   * Removes every series of this process and its entry in the index. Keys of other processes, of other
   * prefixes and of no prefix are never touched (no pattern deletes, no FLUSHDB).
   */
  async clear(): Promise<void> {
    await this.client
      .multi()
      .del(this.valuesKey)
      .zrem(this.prefixKeys.processes, this.identity.id)
      .hdel(this.prefixKeys.processInfo, this.identity.id)
      .exec();
  }

  /**
   * Stores many values in one atomic write. Entries with a timestamp keep it; the others get Redis
   * server time.
   */
  async update(other: StorageEntries): Promise<void> {
    const pairs = Symbol.iterator in other ? [...other] : Object.entries(other);
    await this.store(
      pairs.map(([key, entry]) =>
        typeof entry === 'number' ? [key, entry, undefined] : [key, entry.value, entry.timestamp],
      ),
    );
  }

  private async store(entries: [string, number, number | undefined][]): Promise<void> {
    const args: string[] = [];
    for (const [key, value, timestamp] of entries) {
      args.push(
        key,
        timestamp === undefined
          ? encodeNumber(value)
          : `${encodeNumber(value)} ${encodeNumber(timestamp)}`,
      );
    }
    await withScripts(this.client).nrmDictSet(
      this.prefixKeys.processes,
      this.prefixKeys.processInfo,
      this.valuesKey,
      this.identity.id,
      JSON.stringify(this.identity.info()),
      args,
    );
  }

  /**
   * Each series once. The scan starts again from its beginning when another server process answered
   * part of it (a failover or a restart, see {@link scanWholeHash}); series already yielded are then
   * skipped, as are those HSCAN returns twice.
   */
  private async *scanEntries(): AsyncGenerator<[string, StoredValue]> {
    const yielded = new Set<string>();
    const batches = scanWholeHash(this.client, this.valuesKey, {
      args: ['COUNT', 500],
      askServerId: !this.serverIdRefused,
      onServerIdRefused: () => (this.serverIdRefused = true),
      description: `Redis under prefix "${this.prefixKeys.prefix}": listing "${this.valuesKey}"`,
    });
    for await (const flat of batches) {
      const pairs: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) {
        if (yielded.has(flat[i])) continue;
        yielded.add(flat[i]);
        pairs.push([flat[i], flat[i + 1]]);
      }
      yield* decodeEntries(pairs);
    }
  }
}

function decodeEntries(pairs: [string, string][]): [string, StoredValue][] {
  const decoded: [string, StoredValue][] = [];
  for (const [key, text] of pairs) {
    const value = decodeStoredValue(text);
    if (value !== undefined) decoded.push([key, value]);
  }
  return decoded;
}
