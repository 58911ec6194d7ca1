import type { RedisClient } from './lua-scripts.js';

/** Fields per HSCAN call: a few milliseconds of Redis time at most, whatever the size of the hash. */
export const HSCAN_COUNT = 2000;

/**
 * A hash read in bounded steps, or the fact that the key holds another type. `calls`: how many HSCAN
 * calls the read took; with more than one, the key may have gone between them (see below).
 */
export type ScannedHash =
  | { pairs: string[]; wrongType: false; calls: number }
  | { pairs: []; wrongType: true; calls: number };

/** Whether a command failed because its key holds another type than the command works on. */
export function isWrongTypeError(error: unknown): boolean {
  return /WRONGTYPE/.test(String((error as Error)?.message));
}

/**
 * Reads a whole hash with HSCAN, so no single call stops Redis for long however big the hash is.
 * Every field present for the whole scan is returned (HSCAN's guarantee) when one server process
 * answers every call: a cursor continued on another (a failover or a restart between two calls) skips
 * part of the hash, which RedisMetricsStore checks with the server's run id. A field returned twice keeps
 * its later value. A small hash comes back in one call. A key deleted (or evicted, or expired) between
 * two calls ends the scan with what the earlier calls returned: a caller that needs the whole hash
 * checks that the key still exists when `calls` is more than one.
 */
export async function scanHash(
  client: RedisClient,
  key: string,
  count = HSCAN_COUNT,
): Promise<ScannedHash> {
  const values = new Map<string, string>();
  let cursor = '0';
  let calls = 0;
  do {
    calls += 1;
    let reply: [string, string[]];
    try {
      reply = await client.hscan(key, cursor, 'COUNT', count);
    } catch (error) {
      if (isWrongTypeError(error)) return { pairs: [], wrongType: true, calls };
      throw error;
    }
    const [next, flat] = reply;
    // The usual case, a hash small enough for one call: no duplicates to drop.
    if (cursor === '0' && next === '0') return { pairs: flat, wrongType: false, calls };
    for (let i = 0; i < flat.length; i += 2) values.set(flat[i], flat[i + 1]);
    cursor = next;
  } while (cursor !== '0');
  const pairs: string[] = [];
  for (const [field, value] of values) pairs.push(field, value);
  return { pairs, wrongType: false, calls };
}
