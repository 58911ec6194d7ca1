/** Where a sentinel listens. */
export interface RedisSentinelAddress {
  host: string;
  port: number;
}

/** The port sentinels listen on unless told otherwise. */
export const DEFAULT_SENTINEL_PORT = 26379;

/**
 * Reads sentinel addresses from `host:port,host:port` (IPv6 hosts in brackets, `[::1]:26379`; a missing
 * port is 26379) or from a list of `{ host, port }`.
 * @returns the addresses, or a problem to report for the setting
 */
export function parseSentinelAddresses(raw: unknown): RedisSentinelAddress[] | string {
  const entries: unknown[] =
    typeof raw === 'string'
      ? raw.split(',').map((entry) => entry.trim())
      : Array.isArray(raw)
        ? raw
        : [];
  if (entries.length === 0 || (typeof raw !== 'string' && !Array.isArray(raw))) {
    return 'must list the sentinels as host:port,host:port';
  }
  const addresses: RedisSentinelAddress[] = [];
  for (const [index, entry] of entries.entries()) {
    const address = typeof entry === 'string' ? parseHostPort(entry) : checkAddress(entry);
    // The entry itself is never echoed: a mistaken one may carry a password (a URL, an object).
    if (typeof address === 'string') return `${address} (entry ${index + 1})`;
    addresses.push(address);
  }
  return addresses;
}

function parseHostPort(entry: string): RedisSentinelAddress | string {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(.*))?$/.exec(entry);
  const host = match?.[1] ?? match?.[2] ?? '';
  if (!match || host === '') {
    return 'must list the sentinels as host:port,host:port; an entry has no host';
  }
  // A URL or user:password@host given where an address belongs: the host would carry the secret into
  // every later error text.
  if (/[@/]/.test(entry)) {
    return "must list the sentinels as host:port,host:port, not URLs or credentials (give the sentinels' password as sentinelPassword, REDIS_SENTINEL_PASSWORD)";
  }
  if (match[3] === undefined) return { host, port: DEFAULT_SENTINEL_PORT };
  const port = /^\d+$/.test(match[3]) ? Number(match[3]) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return 'has a port that is not a whole number from 1 to 65535';
  }
  return { host, port };
}

function checkAddress(entry: unknown): RedisSentinelAddress | string {
  const { host, port } = (entry ?? {}) as Partial<RedisSentinelAddress>;
  if (typeof host !== 'string' || host === '') {
    return 'must be a list of { host, port }; an entry has no host';
  }
  if (/[@/]/.test(host)) {
    return "must be a list of { host, port }, with host names, not URLs or credentials (give the sentinels' password as sentinelPassword)";
  }
  const number = port ?? DEFAULT_SENTINEL_PORT;
  if (!Number.isInteger(number) || number < 1 || number > 65535) {
    return 'has a port that is not a whole number from 1 to 65535';
  }
  return { host, port: number };
}
