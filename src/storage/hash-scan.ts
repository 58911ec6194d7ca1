import { isUtf8 } from 'node:buffer';

import type { RedisClient } from './lua-scripts.js';

/** Fields per HSCAN call: a few milliseconds of Redis time at most, whatever the size of the hash. */
export const HSCAN_COUNT = 2000;

/**
 * A hash read in bounded steps, or the fact that the key holds another type. `calls`: how many HSCAN
 * calls the read took; with more than one, the key may have gone between them (see below).
 */
export type ScannedHash =
  | { pairs: string[]; wrongType: false; calls: number; notUtf8: number }
  | { pairs: []; wrongType: true; calls: number; notUtf8: 0 };

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
 * checks that the key still exists when `calls` is more than one. A field whose name or value is not
 * valid UTF-8 is left out and counted in `notUtf8`: read as text, its bytes would be replaced by U+FFFD,
 * and two such fields could read as one.
 */
export async function scanHash(
  client: RedisClient,
  key: string,
  count = HSCAN_COUNT,
): Promise<ScannedHash> {
  const values = new Map<string, string>();
  let cursor = '0';
  let calls = 0;
  // Each field's bytes, as latin1 text (one char per byte): a field HSCAN returns twice counts once.
  const notUtf8 = new Set<string>();
  do {
    calls += 1;
    let reply: [Buffer, Buffer[]];
    try {
      // As bytes: ioredis' text replies replace invalid UTF-8 without a trace.
      reply = await client.hscanBuffer(key, cursor, 'COUNT', count);
    } catch (error) {
      if (isWrongTypeError(error)) return { pairs: [], wrongType: true, calls, notUtf8: 0 };
      throw error;
    }
    const [nextBytes, bytes] = reply;
    const next = nextBytes.toString();
    const flat: string[] = [];
    for (let i = 0; i < bytes.length; i += 2) {
      if (isUtf8(bytes[i]) && isUtf8(bytes[i + 1])) {
        flat.push(bytes[i].toString(), bytes[i + 1].toString());
      } else {
        notUtf8.add(bytes[i].toString('latin1'));
      }
    }
    // The usual case, a hash small enough for one call: no duplicates to drop.
    if (cursor === '0' && next === '0') {
      return { pairs: flat, wrongType: false, calls, notUtf8: notUtf8.size };
    }
    for (let i = 0; i < flat.length; i += 2) values.set(flat[i], flat[i + 1]);
    cursor = next;
  } while (cursor !== '0');
  const pairs: string[] = [];
  for (const [field, value] of values) pairs.push(field, value);
  return { pairs, wrongType: false, calls, notUtf8: notUtf8.size };
}
