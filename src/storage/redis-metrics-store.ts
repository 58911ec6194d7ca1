import { PrefixKeys } from './keys.js';
import { withScripts, type RedisClient } from './lua-scripts.js';
import type { MetricsStore, ProcessHeartbeats, RawPrefixReply } from './metrics-store.js';
import type { ProcessIdentity } from './process-identity.js';
import { redisNow } from './redis-time.js';
import {
  foldProcess,
  writeSeries,
  type SeriesWrite,
  type SeriesWriteResult,
} from './write-series.js';

/** Series kept in Redis under one prefix, through the module's Lua scripts. */
export class RedisMetricsStore implements MetricsStore {
  readonly keys: PrefixKeys;
  readonly description: string;

  constructor(
    readonly client: RedisClient,
    keyPrefix: string,
  ) {
    this.keys = new PrefixKeys(keyPrefix);
    this.description = `Redis under prefix "${keyPrefix}"`;
  }

  write(
    identity: Pick<ProcessIdentity, 'id' | 'info'>,
    write: SeriesWrite,
  ): Promise<SeriesWriteResult> {
    return writeSeries(this.client, this.keys, identity, write);
  }

  fold(processId: string, staleAfterMs?: number): Promise<number> {
    return foldProcess(this.client, this.keys, processId, staleAfterMs);
  }

  async read(): Promise<RawPrefixReply> {
    const reply = await withScripts(this.client).nrmReadPrefix(
      this.keys.processes,
      this.keys.processInfo,
      this.keys.metadata,
      this.keys.archive,
      this.keys.values(''),
    );
    return reply as RawPrefixReply;
  }

  async heartbeats(): Promise<ProcessHeartbeats> {
    const [now, list] = await Promise.all([
      redisNow(this.client),
      this.client.zrange(this.keys.processes, '0', '-1', 'WITHSCORES'),
    ]);
    const heartbeats = new Map<string, number>();
    for (let i = 0; i < list.length; i += 2) heartbeats.set(list[i], Number(list[i + 1]));
    return { now, heartbeats };
  }
}
