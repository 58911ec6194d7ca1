import type { RedisMetricsOptions } from './redis-metrics.options.js';

/** What a Redis URL sets of the options, as the ioredis client made from it connects. */
export type RedisUrlSettings = Pick<
  RedisMetricsOptions,
  'host' | 'port' | 'db' | 'username' | 'password' | 'ssl'
>;

/**
 * The query parameters the module reads from a URL. ioredis takes every parameter of a URL as a
 * client option, over the module's own (`?enableOfflineQueue=true`, `?tls=false`, `?keyPrefix=x` would
 * change how its client works, as strings): only these are honoured, as ioredis reads them.
 */
const QUERY_PARAMETERS = ['db', 'username', 'password', 'family'] as const;

/** ioredis' `family`: 4 or 6 for IPv4 or IPv6 only, 0 for both (platforms with IPv6 networks). */
const FAMILIES = ['0', '4', '6'];

/**
 * Reads a Redis URL as ioredis does: `redis://[user:password@]host[:port][/db][?db=&username=&password=&family=]`,
 * or `rediss://`. Where ioredis would silently take one of two values (the path's database over
 * `?db=`, the credentials before the host over those of the query), the URL is refused instead.
 * @returns the settings, or a problem to report for the setting; a problem never holds the URL or a
 *   credential.
 */
export function readRedisUrl(raw: string): RedisUrlSettings | string {
  // `localhost:6379` or `redis:6379` (a Compose service) is a common way to write an address, which the
  // URL parser reads as a scheme (`localhost:`) or as a URL without a host: say how to write it.
  if (!raw.includes('://')) {
    const expected = '(expected redis://[user:password@]host[:port][/db])';
    // Echoed only when it cannot hold a credential: a host name or address and a port, nothing more.
    return /^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(raw)
      ? `must start with redis:// or rediss://: write "${raw}" as redis://${raw}`
      : `must start with redis:// or rediss:// ${expected}`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL is not echoed: it may carry a password. One with credentials mostly fails on a generated
    // password holding a character the URL parser reads as the end of the host.
    const encoding = raw.includes('@')
      ? '; in a password, write "/" as %2F, "?" as %3F, "#" as %23 and "%" as %25'
      : '';
    return `is not a valid URL (expected redis://[user:password@]host[:port][/db])${encoding}`;
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return `must start with redis:// or rediss://; got "${url.protocol}//"`;
  }
  if (url.hostname === '') return 'has no host';
  // The URL parser takes ports up to 65535 but also 0, which nothing listens on (as REDIS_PORT).
  if (url.port === '0') return 'has port 0; a port is from 1 to 65535';

  // Both mostly come from a password holding "/" or "#" unencoded: what follows it is shown nowhere.
  if (url.hash !== '') {
    return 'has a "#" part, which ioredis ignores (a "#" in a password is written %23)';
  }
  if (url.pathname.includes('@')) {
    return 'has an "@" after the host, where the database number goes (a "/" in a password is written %2F)';
  }

  const query = readQuery(url.searchParams);
  if (typeof query === 'string') return query;

  const dbPath = url.pathname.replace(/^\//, '');
  if (dbPath !== '' && query.db !== undefined) {
    return `gives the database twice, as "/${dbPath}" and as ?db= (ioredis takes the path): keep one`;
  }
  const db = dbPath !== '' ? databaseNumber(dbPath, `"/${dbPath}"`) : (query.db ?? 0);
  if (typeof db === 'string') return db;

  const settings: RedisUrlSettings = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 6379 : Number(url.port),
    db,
    ssl: url.protocol === 'rediss:',
  };
  if (url.username !== '' || url.password !== '') {
    if (query.username !== undefined || query.password !== undefined) {
      // ioredis would connect with those before the host and drop the query's without a word.
      return 'has credentials both before the host and in the query (ioredis takes only those before the host): give them in one place';
    }
    for (const part of ['username', 'password'] as const) {
      if (url[part] === '') continue;
      try {
        settings[part] = decodeURIComponent(url[part]);
      } catch {
        // Neither the URL nor the part is echoed: it is a credential.
        return `has a ${part} that is not valid percent-encoding (write a "%" in it as %25)`;
      }
    }
  } else {
    if (query.username !== undefined) settings.username = query.username;
    if (query.password !== undefined) settings.password = query.password;
  }
  if (settings.username !== undefined && settings.password === undefined) {
    // Mostly a password written without its colon (redis://secret@host): ioredis would log in as the
    // user "secret", and every WRONGPASS would name that user, in the logs and the health route.
    return 'has a user but no password: a password alone is written redis://:password@host, with the colon (an ACL user with nopass takes any password: give one)';
  }
  return settings;
}

interface UrlQuery {
  db?: number;
  username?: string;
  password?: string;
}

/** The parameters of {@link QUERY_PARAMETERS}, decoded as ioredis decodes them (`+` is a space). */
function readQuery(params: URLSearchParams): UrlQuery | string {
  const query: UrlQuery = {};
  for (const name of new Set(params.keys())) {
    if (/^(tls|ssl)/i.test(name)) {
      // URLs shared with redis-py or Celery carry ?ssl_cert_reqs=...; ioredis takes ?tls= as a setting.
      return 'has a TLS parameter in its query, which the module does not take: TLS is a rediss:// URL, with the CA, certificate and key as REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE (options tlsCaFile, tlsCertFile, tlsKeyFile)';
    }
    if (!(QUERY_PARAMETERS as readonly string[]).includes(name)) {
      // The name is not echoed either: an unencoded "?" in a password puts the rest of it there.
      return `has a query parameter the module does not take: only ${QUERY_PARAMETERS.join(', ')} are read from a URL (ioredis would take any other as a client setting over the module's own)`;
    }
    const values = params.getAll(name);
    if (values.length > 1) return `has the query parameter ${name} ${values.length} times`;
    const [value] = values;
    if (value === '') return `has an empty query parameter ${name}`;
    // The values of db and family are not echoed: a password given as ?password= with an unencoded
    // "&" (or one before the host with an unencoded "?") puts its rest there, "...&db=<rest>".
    if (name === 'db') {
      const db = databaseNumber(value, '?db=');
      if (typeof db === 'string') return `${db} ${UNSHOWN_QUERY_VALUE}`;
      query.db = db;
    } else if (name === 'family') {
      if (!FAMILIES.includes(value)) {
        return `has a ?family= other than 4 (IPv4), 6 (IPv6) or 0 (both), the values ioredis takes ${UNSHOWN_QUERY_VALUE}`;
      }
    } else {
      query[name as 'username' | 'password'] = value;
    }
  }
  return query;
}

/** Why a refused query value is not in the message. */
const UNSHOWN_QUERY_VALUE =
  '(its value is not shown: an unencoded "&" in a password puts the rest of it there; write "&" as %26)';

function databaseNumber(text: string, shown: string): number | string {
  if (!/^\d+$/.test(text)) return `has a database part that is not a whole number: ${shown}`;
  const db = Number(text);
  if (!Number.isSafeInteger(db)) return `has a database number too large to be one: ${shown}`;
  return db;
}

/** The URL with its password, before the host or in the query, replaced by `***`. */
export function redactRedisUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    // ioredis connects with a ?password= as with one before the host.
    if (url.searchParams.has('password')) url.searchParams.set('password', '***');
    return url.toString();
  } catch {
    return '***';
  }
}
