import { withScripts, type RedisClient } from './lua-scripts.js';

/**
 * Scans of one hash (or reads of a scrape) made before giving up when another server process answered
 * part of each.
 */
export const MAX_SCAN_ATTEMPTS = 3;

/** Options of {@link scanWholeHash}. */
export interface WholeHashScanOptions {
  /** HSCAN arguments after the cursor (`MATCH`, `COUNT`). */
  args: (string | number)[];
  /** `false` when INFO was refused before (an ACL user without it): every refusal is logged by Redis. */
  askServerId?: boolean;
  /** Told when the server refuses INFO: the scan is then not checked. */
  onServerIdRefused?: () => void;
  /** Names the key in the error thrown after {@link MAX_SCAN_ATTEMPTS} scans. */
  description: string;
  /** What the caller can do about that error, added to it. */
  hint?: string;
}

/**
 * The HSCAN calls of a whole hash, one yielded array of field/value pairs per call. An HSCAN cursor
 * holds only on the server process that returned it: after a failover or a restart between two calls
 * the rest of the scan runs on another one and skips part of the hash. So when a scan took several
 * calls and the server's run id (INFO, read on the node serving `key`) changed since its first call,
 * the scan starts again from cursor 0 and yields fields already yielded again: a caller drops those.
 * Rejects after {@link MAX_SCAN_ATTEMPTS} such scans. When INFO is refused nothing is checked.
 */
export async function* scanWholeHash(
  client: RedisClient,
  key: string,
  options: WholeHashScanOptions,
): AsyncGenerator<string[]> {
  let ask = options.askServerId ?? true;
  const serverId = async (): Promise<string> => {
    if (!ask) return '';
    const id = await withScripts(client).nrmServerId(key);
    if (id === '') {
      ask = false;
      options.onServerIdRefused?.();
    }
    return id;
  };
  // ioredis types HSCAN's options one overload per combination; these are any of them.
  const hscan = client.hscan.bind(client) as unknown as (
    key: string,
    cursor: string,
    ...args: (string | number)[]
  ) => Promise<[string, string[]]>;
  for (let attempt = 1; ; attempt += 1) {
    const before = await serverId();
    let cursor = '0';
    let calls = 0;
    do {
      calls += 1;
      const [next, flat] = await hscan(key, cursor, ...options.args);
      yield flat;
      cursor = next;
    } while (cursor !== '0');
    // One call is answered whole by one server; an unknown id cannot be compared.
    if (calls === 1 || before === '' || (await serverId()) === before) return;
    if (attempt === MAX_SCAN_ATTEMPTS) {
      throw new Error(
        `${options.description}: another Redis server answered part of each of ${MAX_SCAN_ATTEMPTS} scans (a failover or a restart)${options.hint ? `; ${options.hint}` : ''}`,
      );
    }
  }
}
