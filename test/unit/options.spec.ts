import { inspect } from 'node:util';

import {
  createRedisClient,
  describeRedisError,
  DEFAULT_REDIS_METRICS_OPTIONS,
  readRedisMetricsOptionsFromEnv,
  redactRedisMetricsOptions,
  RedisMetricsConfigError,
  RedisStorageManager,
  resolveRedisMetricsOptions,
} from '../../src/index.js';

const SECRET = 's3cr3t-pa55';
/** Why a refused query value is not shown. */
const UNSHOWN =
  '(its value is not shown: an unencoded "&" in a password puts the rest of it there; write "&" as %26)';

function errorOf(env: Record<string, string>): RedisMetricsConfigError {
  try {
    readRedisMetricsOptionsFromEnv(env);
  } catch (error) {
    if (error instanceof RedisMetricsConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(Object.keys(env))}`);
}

describe('options from the environment', () => {
  it('uses the documented defaults when nothing is set', () => {
    expect(readRedisMetricsOptionsFromEnv({})).toEqual({
      enabled: false,
      host: 'localhost',
      port: 6379,
      db: 0,
      ssl: false,
      keyPrefix: 'nestjs',
      ttlSeconds: 300,
      flushIntervalMs: 250,
      livenessWindowMs: 5000,
      defaultGaugeMode: 'all',
      scrapeTimeoutMs: 5000,
      scrapeFallback: 'none',
      freshScrapeWaitMs: 250,
      collectIntervalMs: 1000,
    });
    expect(DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix).toBe('nestjs');
  });

  it("reads every one of the seed's variables", () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_ENABLED: 'true',
      REDIS_HOST: 'redis.internal',
      REDIS_PORT: '6380',
      REDIS_DB: '3',
      REDIS_KEY_PREFIX: 'shop:prod',
      REDIS_TTL_SECONDS: '60',
      REDIS_PASSWORD: SECRET,
      REDIS_SSL: 'yes',
      REDIS_FLUSH_INTERVAL_MS: '500',
      REDIS_LIVENESS_WINDOW_MS: '2000',
      REDIS_DEFAULT_GAUGE_MODE: 'livesum',
      REDIS_SCRAPE_TIMEOUT_MS: '3000',
      REDIS_SCRAPE_FALLBACK: 'local',
      REDIS_FRESH_SCRAPE_WAIT_MS: '0',
      REDIS_COLLECT_INTERVAL_MS: '5000',
    });
    expect(options).toEqual({
      enabled: true,
      host: 'redis.internal',
      port: 6380,
      db: 3,
      keyPrefix: 'shop:prod',
      ttlSeconds: 60,
      password: SECRET,
      ssl: true,
      flushIntervalMs: 500,
      livenessWindowMs: 2000,
      defaultGaugeMode: 'livesum',
      scrapeTimeoutMs: 3000,
      scrapeFallback: 'local',
      freshScrapeWaitMs: 0,
      collectIntervalMs: 5000,
    });
  });

  it('names a scrape fallback it does not know', () => {
    expect(errorOf({ REDIS_SCRAPE_FALLBACK: 'stale' }).message).toBe(
      'nestjs-redis-metrics: REDIS_SCRAPE_FALLBACK must be one of none, local; got "stale"',
    );
  });

  it('takes host, port, db, credentials and TLS from PROMETHEUS_REDIS_URL', () => {
    const options = readRedisMetricsOptionsFromEnv({
      PROMETHEUS_REDIS_URL: `rediss://metrics:${SECRET}@cache.example:6390/2`,
    });
    expect(options).toMatchObject({
      host: 'cache.example',
      port: 6390,
      db: 2,
      username: 'metrics',
      password: SECRET,
      ssl: true,
    });
    expect(redactRedisMetricsOptions(options)).toMatchObject({
      password: '***',
      url: 'rediss://metrics:***@cache.example:6390/2',
    });
  });

  it('resolves what the client made from a URL connects with, not the db and password beside it', () => {
    const options = readRedisMetricsOptionsFromEnv({
      PROMETHEUS_REDIS_URL: 'redis://cache.example:6390',
      REDIS_DB: '3',
      REDIS_PASSWORD: SECRET,
      REDIS_SSL: 'true',
    });
    const client = createRedisClient(options);
    try {
      expect(options).toMatchObject({ host: 'cache.example', port: 6390, db: 0, ssl: false });
      expect(options.password).toBeUndefined();
      expect(client.options).toMatchObject({ port: 6390, db: options.db });
      expect(client.options.password ?? undefined).toBe(options.password);
    } finally {
      client.disconnect();
    }
    const inCode = resolveRedisMetricsOptions({
      url: 'redis://h/4',
      db: 2,
      username: 'u',
      password: SECRET,
    });
    expect(inCode.db).toBe(4);
    expect(inCode).not.toHaveProperty('username');
    expect(inCode).not.toHaveProperty('password');
  });

  it.each([
    [
      `redis://cache.example:6390?db=3&password=${SECRET}`,
      { db: 3, username: undefined, password: SECRET },
    ],
    [
      `rediss://cache.example:6390/?username=metrics&password=${SECRET}`,
      { db: 0, username: 'metrics', password: SECRET },
    ],
    // The query is decoded as ioredis decodes it: %xx and "+" for a space.
    [
      'redis://cache.example:6390/5?password=a%2Bb+c%26d',
      { db: 5, username: undefined, password: 'a+b c&d' },
    ],
    [
      `redis://metrics:${SECRET}@cache.example:6390/7?family=6`,
      { db: 7, username: 'metrics', password: SECRET },
    ],
  ])(
    'resolves the db and credentials of the query of %s as the client made from it connects',
    (url, expected) => {
      const options = readRedisMetricsOptionsFromEnv({ REDIS_URL: url, REDIS_DB: '9' });
      expect({ db: options.db, username: options.username, password: options.password }).toEqual(
        expected,
      );
      const client = createRedisClient(options);
      try {
        // ioredis keeps the query's values as strings.
        expect(Number(client.options.db)).toBe(options.db);
        expect(client.options.username || undefined).toBe(options.username);
        expect(client.options.password || undefined).toBe(options.password);
      } finally {
        client.disconnect();
      }
    },
  );

  it('redacts a password given in the query of the URL, as one before the host', () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_URL: `redis://cache.example:6390/2?username=metrics&password=${SECRET}`,
    });
    const shown = redactRedisMetricsOptions(options);
    expect(shown).toMatchObject({
      password: '***',
      url: 'redis://cache.example:6390/2?username=metrics&password=***',
    });
    expect(JSON.stringify(shown)).not.toContain(SECRET);
  });

  it('leaves no password of a URL in a described error, before the host or in the query', () => {
    const text = (url: string) => describeRedisError(new Error(`cannot use ${url} now`));
    expect(text(`redis://cache:6379/2?db=1&password=${SECRET}&family=6`)).toBe(
      'cannot use redis://cache:6379/2?db=1&password=***&family=6 now',
    );
    expect(text(`rediss://metrics:${SECRET}@cache:6379`)).toBe(
      'cannot use rediss://***@cache:6379 now',
    );
  });

  it.each([
    [
      `redis://cache:6379?password=${SECRET}&enableOfflineQueue=true`,
      "has a query parameter the module does not take: only db, username, password, family are read from a URL (ioredis would take any other as a client setting over the module's own)",
    ],
    [
      // An unencoded "?" in a password: what follows it is a parameter, and is not shown.
      `redis://default:12?${SECRET}@cache:6379`,
      "has a query parameter the module does not take: only db, username, password, family are read from a URL (ioredis would take any other as a client setting over the module's own)",
    ],
    [
      // A URL shared with redis-py (Celery, the Python original's world), and ioredis' own TLS setting.
      'rediss://cache:6380/0?ssl_cert_reqs=required',
      'has a TLS parameter in its query, which the module does not take: TLS is a rediss:// URL, with the CA, certificate and key as REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE (options tlsCaFile, tlsCertFile, tlsKeyFile)',
    ],
    [
      'redis://cache:6379?tls=true',
      'has a TLS parameter in its query, which the module does not take: TLS is a rediss:// URL, with the CA, certificate and key as REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE (options tlsCaFile, tlsCertFile, tlsKeyFile)',
    ],
    [
      'redis://cache:6379/2?db=3',
      'gives the database twice, as "/2" and as ?db= (ioredis takes the path): keep one',
    ],
    [
      `redis://metrics:${SECRET}@cache:6379?password=${SECRET}`,
      'has credentials both before the host and in the query (ioredis takes only those before the host): give them in one place',
    ],
    [
      `redis://:${SECRET}@cache:6379?username=metrics`,
      'has credentials both before the host and in the query (ioredis takes only those before the host): give them in one place',
    ],
    [
      // A "/" in a password, unencoded: the rest of it would be shown as the database part.
      `redis://default:12/${SECRET}@cache:6379`,
      'has an "@" after the host, where the database number goes (a "/" in a password is written %2F)',
    ],
    [
      `redis://default:12#${SECRET}@cache:6379`,
      'has a "#" part, which ioredis ignores (a "#" in a password is written %23)',
    ],
    [
      // A password without its colon: it would be the user named by every WRONGPASS.
      `redis://${SECRET}@cache:6379/2`,
      'has a user but no password: a password alone is written redis://:password@host, with the colon (an ACL user with nopass takes any password: give one)',
    ],
    [
      `redis://cache:6379/2?username=${SECRET}`,
      'has a user but no password: a password alone is written redis://:password@host, with the colon (an ACL user with nopass takes any password: give one)',
    ],
    [
      `redis://cache:6379?password=${SECRET}&password=x`,
      'has the query parameter password 2 times',
    ],
    ['redis://cache:6379?password=', 'has an empty query parameter password'],
    [
      'redis://cache:6379?db=three',
      `has a database part that is not a whole number: ?db= ${UNSHOWN}`,
    ],
    [
      'redis://cache:6379?family=5',
      `has a ?family= other than 4 (IPv4), 6 (IPv6) or 0 (both), the values ioredis takes ${UNSHOWN}`,
    ],
    [
      // A password with an unencoded "&": its rest is the value of another parameter.
      `redis://cache:6379?password=abc&db=${SECRET}`,
      `has a database part that is not a whole number: ?db= ${UNSHOWN}`,
    ],
    [
      `redis://cache:6379?password=abc&family=${SECRET}`,
      `has a ?family= other than 4 (IPv4), 6 (IPv6) or 0 (both), the values ioredis takes ${UNSHOWN}`,
    ],
    [
      // An unencoded "?" in a password before the host: the URL ends its port there.
      `redis://metrics:12?db=${SECRET}@cache:6379`,
      `has a database part that is not a whole number: ?db= ${UNSHOWN}`,
    ],
  ])('refuses %s, naming the problem and no credential', (url, problem) => {
    const error = errorOf({ PROMETHEUS_REDIS_URL: url });
    expect(error.message).toBe(`nestjs-redis-metrics: PROMETHEUS_REDIS_URL ${problem}`);
    expect(`${error.message} ${error.stack}`).not.toContain(SECRET);
  });

  it('names the variable whose URL has a password that is not percent-encoding, never showing it', () => {
    const error = errorOf({ REDIS_URL: `redis://metrics:${SECRET}%zz@127.0.0.1:6379/9` });
    expect(error.message).toBe(
      'nestjs-redis-metrics: REDIS_URL has a password that is not valid percent-encoding (write a "%" in it as %25)',
    );
    expect(
      readRedisMetricsOptionsFromEnv({ REDIS_URL: `redis://metrics:${SECRET}%25zz@127.0.0.1` })
        .password,
    ).toBe(`${SECRET}%zz`);
  });

  it.each([
    [{ REDIS_PORT: 'abc' }, 'nestjs-redis-metrics: REDIS_PORT must be a whole number; got "abc"'],
    [
      { REDIS_PORT: '70000' },
      'nestjs-redis-metrics: REDIS_PORT must be from 1 to 65535; got 70000',
    ],
    [{ REDIS_DB: '-1' }, 'nestjs-redis-metrics: REDIS_DB must be at least 0; got -1'],
    [
      { REDIS_TTL_SECONDS: '-5' },
      'nestjs-redis-metrics: REDIS_TTL_SECONDS must be at least 1; got -5',
    ],
    [
      { REDIS_TTL_SECONDS: '1.5' },
      'nestjs-redis-metrics: REDIS_TTL_SECONDS must be a whole number; got "1.5"',
    ],
    [
      { REDIS_ENABLED: 'maybe' },
      'nestjs-redis-metrics: REDIS_ENABLED must be true or false (also 1/0, yes/no, on/off); got "maybe"',
    ],
    [
      { REDIS_SSL: 'tls' },
      'nestjs-redis-metrics: REDIS_SSL must be true or false (also 1/0, yes/no, on/off); got "tls"',
    ],
    [
      { REDIS_KEY_PREFIX: 'a{b}' },
      'nestjs-redis-metrics: REDIS_KEY_PREFIX must not contain "{" or "}" (it becomes a Redis Cluster hash tag); got "a{b}"',
    ],
    [
      { REDIS_DEFAULT_GAUGE_MODE: 'median' },
      'nestjs-redis-metrics: REDIS_DEFAULT_GAUGE_MODE must be one of all, liveall, live, max, min, sum, mostrecent, livemax, livemin, livesum, livemostrecent; got "median"',
    ],
    [
      { REDIS_FLUSH_INTERVAL_MS: '1000', REDIS_LIVENESS_WINDOW_MS: '800' },
      'nestjs-redis-metrics: REDIS_LIVENESS_WINDOW_MS must be longer than the flush interval (1000 ms), or every process looks dead between two flushes; got 800',
    ],
    [
      { REDIS_LIVENESS_WINDOW_MS: '5000', REDIS_TTL_SECONDS: '2' },
      'nestjs-redis-metrics: REDIS_TTL_SECONDS must be at least the liveness window (5000 ms), or live processes get reaped; got 2',
    ],
    [
      { PROMETHEUS_REDIS_URL: `not a url with ${SECRET}` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL must start with redis:// or rediss:// (expected redis://[user:password@]host[:port][/db])',
    ],
    [
      { PROMETHEUS_REDIS_URL: `redis://not a url with ${SECRET}` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL is not a valid URL (expected redis://[user:password@]host[:port][/db])',
    ],
    [
      { PROMETHEUS_REDIS_URL: `http://user:${SECRET}@host:6379` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL must start with redis:// or rediss://; got "http://"',
    ],
    [
      { PROMETHEUS_REDIS_URL: `redis://:${SECRET}@host:6379/cache` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL has a database part that is not a whole number: "/cache"',
    ],
    [
      // Node's timers fire after 1 ms for a longer wait: every scrape answered 503 at once.
      { REDIS_SCRAPE_TIMEOUT_MS: '3000000000' },
      'nestjs-redis-metrics: REDIS_SCRAPE_TIMEOUT_MS must be from 1 to 2147483647; got 3000000000',
    ],
    [
      { REDIS_FLUSH_INTERVAL_MS: '2147483648' },
      'nestjs-redis-metrics: REDIS_FLUSH_INTERVAL_MS must be from 10 to 2147483647; got 2147483648',
    ],
    [
      { REDIS_FRESH_SCRAPE_WAIT_MS: '99999999999' },
      'nestjs-redis-metrics: REDIS_FRESH_SCRAPE_WAIT_MS must be from 0 to 2147483647; got 99999999999',
    ],
    [
      { PROMETHEUS_REDIS_URL: `redis://:${SECRET}@host:0/1` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL has port 0; a port is from 1 to 65535',
    ],
    [
      // Redis's address would show the password in every "host not found: ..." of the logs and health.
      { REDIS_ENABLED: 'true', REDIS_HOST: `redis://:${SECRET}@cache.example:6379` },
      'nestjs-redis-metrics: REDIS_HOST must be a host name or address, not a URL or credentials (give a URL as PROMETHEUS_REDIS_URL, a password as REDIS_PASSWORD)',
    ],
    [
      { REDIS_HOST: `metrics:${SECRET}@cache.example` },
      'nestjs-redis-metrics: REDIS_HOST must be a host name or address, not a URL or credentials (give a URL as PROMETHEUS_REDIS_URL, a password as REDIS_PASSWORD)',
    ],
    [
      { REDIS_URL: `redis://:${SECRET}@host:6379/99999999999999999999` },
      'nestjs-redis-metrics: REDIS_URL has a database number too large to be one: "/99999999999999999999"',
    ],
  ])('rejects %j with its own message', (env, message) => {
    const error = errorOf({ ...env, REDIS_PASSWORD: SECRET });
    expect(error.message).toBe(message);
    expect(error.setting).toBe(Object.keys(env).at(-1));
    expect(`${error.message} ${error.stack} ${JSON.stringify(error)}`).not.toContain(SECRET);
  });

  it('names the option, not a variable, for options given in code', () => {
    expect(() => resolveRedisMetricsOptions({ port: -1 })).toThrow(
      'nestjs-redis-metrics: option "port" must be from 1 to 65535; got -1',
    );
    expect(() => resolveRedisMetricsOptions({ host: `redis://:${SECRET}@cache` })).toThrow(
      'nestjs-redis-metrics: option "host" must be a host name or address, not a URL or credentials (give a URL as option "url", a password as option "password")',
    );
    // Unused beside a URL, the host is left alone.
    expect(resolveRedisMetricsOptions({ host: 'cache/0', url: 'redis://cache:6379/1' }).host).toBe(
      'cache',
    );
  });
});

describe('what util.inspect and console.log show', () => {
  it('shows resolved options with their passwords redacted, and leaves the options themselves whole', () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_URL: `redis://metrics:${SECRET}@cache.example:6390/2`,
    });
    expect(inspect(options)).toBe(inspect(redactRedisMetricsOptions(options)));
    expect(inspect(options)).toContain("url: 'redis://metrics:***@cache.example:6390/2'");
    expect(inspect(options)).not.toContain(SECRET);
    // The client is made from them, and a copy sent elsewhere keeps what it needs.
    expect(options.password).toBe(SECRET);
    expect(JSON.parse(JSON.stringify(options)).password).toBe(SECRET);
    const sentinels = resolveRedisMetricsOptions({
      sentinels: [{ host: 'sentinel-1', port: 26379 }],
      sentinelMaster: 'main',
      sentinelPassword: SECRET,
      password: `${SECRET}-2`,
    });
    expect(inspect(sentinels)).toContain("sentinelPassword: '***'");
    expect(inspect(sentinels)).not.toContain(SECRET);
  });

  it('shows a manager without the passwords of its options, its client or its auth credentials', async () => {
    const manager = new RedisStorageManager(
      {
        url: `redis://127.0.0.1:1/3?username=metrics&password=${SECRET}`,
        auth: {
          bearerToken: `token-${SECRET}`,
          basic: { username: 'p', password: `basic-${SECRET}` },
        },
        defaultMetrics: false,
      },
      { log: () => undefined, warn: () => undefined, error: () => undefined },
    );
    try {
      const shown = inspect(manager, { depth: 10 });
      expect(shown).toContain("password: '***'");
      expect(shown).toContain(`process: '${manager.identity.id}'`);
      expect(shown).not.toContain(SECRET);
    } finally {
      await manager.teardown();
    }
  });
});
