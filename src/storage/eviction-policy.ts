import { Cluster } from 'ioredis';

import type { RedisClient } from './lua-scripts.js';

/** Policies under which Redis may evict a key that has no TTL: the module's keys never have one. */
const EVICTING_POLICIES = new Set(['allkeys-lru', 'allkeys-lfu', 'allkeys-random']);

/**
 * The eviction policy of each server holding data, when it may evict the module's keys; `undefined`
 * when it cannot (`noeviction`, `volatile-*`) or when Redis does not say (INFO refused).
 * Reads `INFO memory`, which managed Redis services allow more often than `CONFIG GET`.
 */
export async function evictingPolicy(client: RedisClient): Promise<string | undefined> {
  const nodes = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    let info: string;
    try {
      info = await node.info('memory');
    } catch {
      continue;
    }
    const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
    if (policy && EVICTING_POLICIES.has(policy)) return policy;
  }
  return undefined;
}
