import { RedisMetricsConfigError } from './errors.js';
import { redisUrlFromEnv } from './redis-metrics.env-source.js';
import { readRedisUrl, redactRedisUrl } from './redis-url.js';
import { parseSentinelAddresses, type RedisSentinelAddress } from './sentinel-addresses.js';
import { FALSE_WORDS, TRUE_WORDS } from './sentence-words.js';
import { rememberEnvRead } from './setting-names.js';
import { checkKeyFile, checkPemFile, keyMatchesCertificate } from './tls-files.js';

/**
 * How a gauge is aggregated across processes at scrape time.
 *
 * - `all`: one series per process, labelled with its `pid` and `hostname`, dead processes included
 *   until reaped.
 * - `liveall`: like `all`, live processes only.
 * - `live`: another name for `liveall`.
 * - `max` / `min` / `sum`: one series, the maximum / minimum / sum over every process still stored.
 * - `mostrecent`: one series, the value written last (by Redis server time).
 * - `livemax` / `livemin` / `livesum` / `livemostrecent`: the same over live processes only.
 */
export type GaugeMode =
  | 'all'
  | 'liveall'
  | 'live'
  | 'max'
  | 'min'
  | 'sum'
  | 'mostrecent'
  | 'livemax'
  | 'livemin'
  | 'livesum'
  | 'livemostrecent';

/**
 * Settings of {@link RedisMetricsOptions} as given to {@link resolveRedisMetricsOptions} and
 * `RedisMetricsModule.forRoot()`, each optional. A setting given as `undefined` counts as not given, so
 * `{ url: process.env.REDIS_URL }` type-checks under `exactOptionalPropertyTypes` too.
 */
export type GivenRedisMetricsOptions = {
  [Setting in keyof RedisMetricsOptions]?: RedisMetricsOptions[Setting] | undefined;
};

/** Every gauge mode, in the order of the docs. */
export const GAUGE_MODES: readonly GaugeMode[] = [
  'all',
  'liveall',
  'live',
  'max',
  'min',
  'sum',
  'mostrecent',
  'livemax',
  'livemin',
  'livesum',
  'livemostrecent',
];

/** Resolved settings of the module. Every field has a default: see {@link DEFAULT_REDIS_METRICS_OPTIONS}. */
export interface RedisMetricsOptions {
  /** Store metrics in Redis (`REDIS_ENABLED`). When false the process serves only its own registry. */
  enabled: boolean;
  /** Redis host (`REDIS_HOST`). */
  host: string;
  /** Redis port (`REDIS_PORT`). */
  port: number;
  /** Redis database number (`REDIS_DB`). */
  db: number;
  /** Redis ACL user name, if any (from the URL's user part). */
  username?: string;
  /** Redis password, if any (`REDIS_PASSWORD` or the URL's password part). Never logged. */
  password?: string;
  /** Connect with TLS (`REDIS_SSL`, or a `rediss://` URL). */
  ssl: boolean;
  /**
   * TLS: a PEM file with the CA certificate(s) the server's certificate must be signed by
   * (`REDIS_TLS_CA_FILE`). Without it Node's bundled public CAs are trusted. Needs TLS on.
   */
  tlsCaFile?: string;
  /**
   * TLS: this client's certificate, a PEM file (`REDIS_TLS_CERT_FILE`), for a server that asks for
   * one (`tls-auth-clients yes`). Needs {@link tlsKeyFile}.
   */
  tlsCertFile?: string;
  /** TLS: the private key of {@link tlsCertFile}, a PEM file (`REDIS_TLS_KEY_FILE`). Never logged. */
  tlsKeyFile?: string;
  /**
   * TLS: the name the server's certificate must hold when it differs from the host connected to
   * (`REDIS_TLS_SERVERNAME`); also sent as SNI.
   */
  tlsServername?: string;
  /**
   * Sentinel: the sentinels to ask for the master (`REDIS_SENTINELS=host:port,host:port`; the port
   * defaults to 26379). With them the module follows failovers at once (ioredis' failover detector)
   * and `host`, `port` and `url` are not used. Needs {@link sentinelMaster}.
   */
  sentinels?: RedisSentinelAddress[];
  /** Sentinel: the name of the master the sentinels monitor (`REDIS_SENTINEL_MASTER`). */
  sentinelMaster?: string;
  /** Sentinel: the sentinels' own password, if they require one (`REDIS_SENTINEL_PASSWORD`). Never logged. */
  sentinelPassword?: string;
  /**
   * A full connection URL (`PROMETHEUS_REDIS_URL`, else `REDIS_URL`),
   * `redis://[user:password@]host[:port][/db]` or `rediss://...`. When set it wins over host, port, db,
   * username, password and ssl: a part the URL leaves out takes its default (database 0, no password,
   * no TLS), as the client made from it does. Of the query, ioredis' `db`, `username`, `password` and
   * `family` are read (`?db=3&password=...`); any other parameter is refused, as ioredis would take it as
   * a client setting over the module's own.
   */
  url?: string;
  /** Prefix of every key this module writes (`REDIS_KEY_PREFIX`). May contain `:`; not `{` or `}`. */
  keyPrefix: string;
  /**
   * Seconds without a heartbeat after which a process counts as dead and any live process may end it:
   * its gauges go, its counts stay (`REDIS_TTL_SECONDS`). It never expires series of a live process.
   */
  ttlSeconds: number;
  /**
   * Milliseconds between two background flushes of this process's registry (`REDIS_FLUSH_INTERVAL_MS`).
   * A process killed without warning loses what it counted since its last flush: half an interval of
   * its traffic on average (docs/benchmarks.md).
   */
  flushIntervalMs: number;
  /**
   * Milliseconds a heartbeat stays fresh: a process is live for the `live*` gauge modes while its last
   * heartbeat is younger than this (`REDIS_LIVENESS_WINDOW_MS`). Defaults to five flush intervals, and
   * at least 5 s, so a long garbage collection pause does not make a process look dead.
   */
  livenessWindowMs: number;
  /** Mode of a gauge that names none (`REDIS_DEFAULT_GAUGE_MODE`). */
  defaultGaugeMode: GaugeMode;
  /**
   * Milliseconds a merged scrape may take before `/metrics` gives up with 503
   * (`REDIS_SCRAPE_TIMEOUT_MS`). Prometheus' own scrape timeout, from its
   * `X-Prometheus-Scrape-Timeout-Seconds` header, shortens it when it is shorter.
   */
  scrapeTimeoutMs: number;
  /**
   * What `/metrics` serves when the merged read fails, or its totals are partial while Redis is
   * written again after it lost data (`REDIS_SCRAPE_FALLBACK`): `none` (default) answers 503, so
   * Prometheus records the scrape as failed and `rate()` bridges the gap; `local` serves this
   * process's own registry with 200, as prom-client alone would, which Prometheus reads as counter
   * resets of the merged series (their rates jump while Redis is away).
   */
  scrapeFallback: 'none' | 'local';
  /**
   * Fresh scrapes: before reading, a scrape asks every process to flush now and waits up to this many
   * ms for them (`REDIS_FRESH_SCRAPE_WAIT_MS`), so a count made before the scrape is in it; 0 turns it
   * off. Never longer than the scrape timeout. Redis storage only.
   */
  freshScrapeWaitMs: number;
  /**
   * The registry's `collect` callbacks (prom-client's default metrics, `collect` of your metrics) run at
   * most every this many ms (`REDIS_COLLECT_INTERVAL_MS`), rather than at every flush, and at every
   * fresh scrape, manual flush and shutdown: prom-client runs them only when scraped.
   */
  collectIntervalMs: number;
}

/**
 * How long scrapes answer 503 after a process found that Redis lost data, while every live process
 * writes its part again: two flush intervals, and the 2 s a client of the module may take to
 * reconnect (its retry cap), so a process that comes back last is in before scrapes resume.
 */
export function lostDataGraceMs(flushIntervalMs: number): number {
  return 2 * flushIntervalMs + 2000;
}

/** The defaults of {@link RedisMetricsOptions}. */
export const DEFAULT_REDIS_METRICS_OPTIONS: Readonly<RedisMetricsOptions> = Object.freeze({
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

/**
 * Environment variables read by {@link readRedisMetricsOptionsFromEnv}, each with the option it sets.
 * `REDIS_URL` sets `url` too, when `PROMETHEUS_REDIS_URL` is not set (see `redisUrlFromEnv`).
 */
export const REDIS_METRICS_ENV = {
  REDIS_ENABLED: 'enabled',
  REDIS_HOST: 'host',
  REDIS_PORT: 'port',
  REDIS_DB: 'db',
  REDIS_KEY_PREFIX: 'keyPrefix',
  REDIS_TTL_SECONDS: 'ttlSeconds',
  REDIS_PASSWORD: 'password',
  REDIS_SSL: 'ssl',
  REDIS_TLS_CA_FILE: 'tlsCaFile',
  REDIS_TLS_CERT_FILE: 'tlsCertFile',
  REDIS_TLS_KEY_FILE: 'tlsKeyFile',
  REDIS_TLS_SERVERNAME: 'tlsServername',
  REDIS_SENTINELS: 'sentinels',
  REDIS_SENTINEL_MASTER: 'sentinelMaster',
  REDIS_SENTINEL_PASSWORD: 'sentinelPassword',
  PROMETHEUS_REDIS_URL: 'url',
  REDIS_FLUSH_INTERVAL_MS: 'flushIntervalMs',
  REDIS_LIVENESS_WINDOW_MS: 'livenessWindowMs',
  REDIS_DEFAULT_GAUGE_MODE: 'defaultGaugeMode',
  REDIS_SCRAPE_TIMEOUT_MS: 'scrapeTimeoutMs',
  REDIS_SCRAPE_FALLBACK: 'scrapeFallback',
  REDIS_FRESH_SCRAPE_WAIT_MS: 'freshScrapeWaitMs',
  REDIS_COLLECT_INTERVAL_MS: 'collectIntervalMs',
} as const satisfies Record<string, keyof RedisMetricsOptions>;

type OptionSource = (option: keyof RedisMetricsOptions) => string;

/**
 * The longest wait Node's timers take (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms,
 * which made a scrape timeout of 3,000,000,000 ms answer every scrape with 503 at once.
 */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Reads the module's options from environment variables (see {@link REDIS_METRICS_ENV}), fills in the
 * defaults and validates the result. The protection of the routes (`METRICS_AUTH_*`) is not among
 * them: `readMetricsAuthFromEnv()` reads it, as the `auth` option.
 *
 * @throws RedisMetricsConfigError naming the variable and what is wrong with it; the message never
 *   contains a password.
 */
export function readRedisMetricsOptionsFromEnv(
  env: Record<string, string | undefined> = process.env,
): RedisMetricsOptions {
  const given: Partial<Record<keyof RedisMetricsOptions, unknown>> = {};
  const variableOf = {} as Record<keyof RedisMetricsOptions, string>;
  for (const [variable, option] of Object.entries(REDIS_METRICS_ENV)) {
    variableOf[option] = variable;
    const raw = env[variable];
    if (raw !== undefined && raw.trim() !== '') given[option] = raw.trim();
  }
  // A URL in the environment (PROMETHEUS_REDIS_URL, else REDIS_URL) turns storage on unless
  // REDIS_ENABLED says otherwise: see describeRedisMetricsEnv for the start-up log line.
  const urlSource = redisUrlFromEnv(env);
  // With sentinels the master comes from them; a platform's REDIS_URL then names something else.
  const urlIsElsewhere = urlSource?.variable === 'REDIS_URL' && given.sentinels !== undefined;
  if (urlSource && !urlIsElsewhere) {
    given.url = urlSource.url;
    variableOf.url = urlSource.variable;
    given.enabled ??= true;
  }
  const options = resolveOptions(given, (option) => variableOf[option]);
  // So that a failed connection's hint names these variables rather than options in code.
  rememberEnvRead(variableOf, options);
  return options;
}

/**
 * Fills in the defaults of options given in code (strings from the environment are accepted too) and
 * validates them.
 *
 * @throws RedisMetricsConfigError naming the option and what is wrong with it.
 */
export function resolveRedisMetricsOptions(
  given: GivenRedisMetricsOptions = {},
): RedisMetricsOptions {
  return resolveOptions(given, (option) => `option "${option}"`);
}

function resolveOptions(
  given: Partial<Record<keyof RedisMetricsOptions, unknown>>,
  nameOf: OptionSource,
): RedisMetricsOptions {
  const fail = (option: keyof RedisMetricsOptions, problem: string): never => {
    throw new RedisMetricsConfigError(nameOf(option), problem);
  };
  const d = DEFAULT_REDIS_METRICS_OPTIONS;

  const flushIntervalMs = integer(
    given,
    'flushIntervalMs',
    d.flushIntervalMs,
    10,
    fail,
    MAX_TIMER_MS,
  );
  const options: RedisMetricsOptions = {
    enabled: boolean(given, 'enabled', d.enabled, fail),
    host: text(given, 'host', d.host, fail),
    port: integer(given, 'port', d.port, 1, fail, 65535),
    db: integer(given, 'db', d.db, 0, fail),
    ssl: boolean(given, 'ssl', d.ssl, fail),
    keyPrefix: keyPrefix(given, fail),
    ttlSeconds: integer(given, 'ttlSeconds', d.ttlSeconds, 1, fail),
    flushIntervalMs,
    livenessWindowMs: integer(
      given,
      'livenessWindowMs',
      Math.max(flushIntervalMs * 5, d.livenessWindowMs),
      1,
      fail,
    ),
    defaultGaugeMode: oneOf(given, 'defaultGaugeMode', GAUGE_MODES, d.defaultGaugeMode, fail),
    scrapeTimeoutMs: integer(given, 'scrapeTimeoutMs', d.scrapeTimeoutMs, 1, fail, MAX_TIMER_MS),
    freshScrapeWaitMs: integer(
      given,
      'freshScrapeWaitMs',
      d.freshScrapeWaitMs,
      0,
      fail,
      MAX_TIMER_MS,
    ),
    collectIntervalMs: integer(given, 'collectIntervalMs', d.collectIntervalMs, 0, fail),
    scrapeFallback: oneOf(
      given,
      'scrapeFallback',
      ['none', 'local'] as const,
      d.scrapeFallback,
      fail,
    ),
  };
  const password = optionalText(given, 'password', fail);
  if (password !== undefined) options.password = password;
  const username = optionalText(given, 'username', fail);
  if (username !== undefined) options.username = username;
  const url = optionalText(given, 'url', fail);
  if (url !== undefined) applyUrl(options, url, (problem) => fail('url', problem));
  applyTls(options, given, nameOf, fail);
  applySentinels(options, given, nameOf, fail);
  // A URL or user:password@ given as the host would carry the password into every "host not found".
  if (options.url === undefined && options.sentinels === undefined && /[@/]/.test(options.host)) {
    fail(
      'host',
      `must be a host name or address, not a URL or credentials (give a URL as ${nameOf('url')}, a password as ${nameOf('password')})`,
    );
  }

  if (options.livenessWindowMs <= options.flushIntervalMs) {
    fail(
      'livenessWindowMs',
      `must be longer than the flush interval (${options.flushIntervalMs} ms), or every process looks dead between two flushes; got ${options.livenessWindowMs}`,
    );
  }
  if (options.ttlSeconds * 1000 < options.livenessWindowMs) {
    fail(
      'ttlSeconds',
      `must be at least the liveness window (${options.livenessWindowMs} ms), or live processes get reaped; got ${options.ttlSeconds}`,
    );
  }
  return inspectedWithoutSecrets(options);
}

type Fail = (option: keyof RedisMetricsOptions, problem: string) => never;
type Given = Partial<Record<keyof RedisMetricsOptions, unknown>>;

function boolean(given: Given, option: keyof RedisMetricsOptions, fallback: boolean, fail: Fail) {
  const value = given[option];
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  const word = String(value).toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return fail(option, `must be true or false (also 1/0, yes/no, on/off); got "${String(value)}"`);
}

function integer(
  given: Given,
  option: keyof RedisMetricsOptions,
  fallback: number,
  min: number,
  fail: Fail,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = given[option];
  if (value === undefined) return fallback;
  const number =
    typeof value === 'number' ? value : /^-?\d+$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number)) {
    return fail(option, `must be a whole number; got "${String(value)}"`);
  }
  if (number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    return fail(option, `must be ${range}; got ${number}`);
  }
  return number;
}

function text(given: Given, option: keyof RedisMetricsOptions, fallback: string, fail: Fail) {
  return optionalText(given, option, fail) ?? fallback;
}

function optionalText(given: Given, option: keyof RedisMetricsOptions, fail: Fail) {
  const value = given[option];
  if (value === undefined) return undefined;
  // The value itself is left out of this message: it may be a password or a URL with one.
  if (typeof value !== 'string' || value === '') return fail(option, 'must be a non-empty string');
  return value;
}

function keyPrefix(given: Given, fail: Fail): string {
  const prefix = text(given, 'keyPrefix', DEFAULT_REDIS_METRICS_OPTIONS.keyPrefix, fail);
  if (/[{}]/.test(prefix)) {
    fail(
      'keyPrefix',
      `must not contain "{" or "}" (it becomes a Redis Cluster hash tag); got "${prefix}"`,
    );
  }
  return prefix;
}

function oneOf<T extends string>(
  given: Given,
  option: keyof RedisMetricsOptions,
  choices: readonly T[],
  fallback: T,
  fail: Fail,
): T {
  const value = text(given, option, fallback, fail);
  if (!(choices as readonly string[]).includes(value)) {
    fail(option, `must be one of ${choices.join(', ')}; got "${value}"`);
  }
  return value as T;
}

/** Takes host, port, db, credentials and TLS from a Redis URL. Problems are described without the URL. */
function applyUrl(options: RedisMetricsOptions, raw: string, fail: (problem: string) => never) {
  const settings = readRedisUrl(raw);
  if (typeof settings === 'string') return fail(settings);
  options.url = raw;
  // The URL wins over db and credentials given beside it, as the client made from it connects:
  // database 0 and no password unless the URL names them.
  delete options.username;
  delete options.password;
  Object.assign(options, settings);
}

/** TLS files must be readable PEM files, and need TLS on; a certificate needs its key. */
function applyTls(
  options: RedisMetricsOptions,
  given: Given,
  nameOf: OptionSource,
  fail: Fail,
): void {
  const files = ['tlsCaFile', 'tlsCertFile', 'tlsKeyFile'] as const;
  for (const option of [...files, 'tlsServername'] as const) {
    const value = optionalText(given, option, fail);
    if (value === undefined) continue;
    if (!options.ssl) {
      // With a URL its scheme alone decides (ssl is not read): asking for ssl would not help.
      fail(
        option,
        options.url === undefined
          ? `is set, but TLS is off: set ${nameOf('ssl')} to true or use a rediss:// URL`
          : `is set, but TLS is off: ${nameOf('url')} starts with redis://; use rediss:// (with a URL, ${nameOf('ssl')} is not used)`,
      );
    }
    if ((files as readonly string[]).includes(option)) {
      const problem = option === 'tlsKeyFile' ? checkKeyFile(value) : checkPemFile(value);
      if (problem !== undefined) fail(option, problem);
    }
    options[option] = value;
  }
  if (options.tlsCertFile !== undefined && options.tlsKeyFile === undefined) {
    fail('tlsCertFile', `needs ${nameOf('tlsKeyFile')} too: a client certificate needs its key`);
  }
  if (options.tlsKeyFile !== undefined && options.tlsCertFile === undefined) {
    fail('tlsKeyFile', `needs ${nameOf('tlsCertFile')} too: the key of which certificate?`);
  }
  if (
    options.tlsCertFile !== undefined &&
    options.tlsKeyFile !== undefined &&
    !keyMatchesCertificate(options.tlsCertFile, options.tlsKeyFile)
  ) {
    fail(
      'tlsKeyFile',
      `is not the key of the certificate in ${nameOf('tlsCertFile')}: ${options.tlsKeyFile} (give the key file made with ${options.tlsCertFile})`,
    );
  }
}

/** Sentinel addresses and the master name come together, and replace the URL. */
function applySentinels(
  options: RedisMetricsOptions,
  given: Given,
  nameOf: OptionSource,
  fail: Fail,
): void {
  const raw = given.sentinels;
  const master = optionalText(given, 'sentinelMaster', fail);
  const password = optionalText(given, 'sentinelPassword', fail);
  if (raw === undefined) {
    if (master !== undefined) {
      fail('sentinelMaster', `needs ${nameOf('sentinels')}, the addresses of the sentinels`);
    }
    if (password !== undefined) {
      fail('sentinelPassword', `needs ${nameOf('sentinels')}, the addresses of the sentinels`);
    }
    return;
  }
  const parsed = parseSentinelAddresses(raw);
  if (typeof parsed === 'string') return fail('sentinels', parsed);
  if (master === undefined) {
    return fail(
      'sentinels',
      `needs ${nameOf('sentinelMaster')}, the name of the master the sentinels monitor`,
    );
  }
  if (options.url !== undefined) {
    return fail(
      'sentinels',
      `cannot be used with ${nameOf('url')}: the sentinels name the master (give its password, db and TLS settings on their own)`,
    );
  }
  options.sentinels = parsed;
  options.sentinelMaster = master;
  if (password !== undefined) options.sentinelPassword = password;
}

/**
 * Options with the passwords, that of the URL included (before the host or as `?password=`), replaced
 * by `***`, safe to log or show.
 */
export function redactRedisMetricsOptions(options: RedisMetricsOptions): RedisMetricsOptions {
  const safe = { ...options };
  if (safe.password !== undefined) safe.password = '***';
  if (safe.sentinelPassword !== undefined) safe.sentinelPassword = '***';
  if (safe.url !== undefined) safe.url = redactRedisUrl(safe.url);
  return safe;
}

/** The key of Node's `util.inspect` hook (console.log, a logger's "%o"), without importing node:util. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Makes `util.inspect` (and so `console.log`) show the options as {@link redactRedisMetricsOptions}
 * does. Not enumerable: a spread copy, `JSON.stringify` and equality checks see the options as they are
 * (a copy sent to a worker keeps its password; a spread copy is shown whole).
 */
function inspectedWithoutSecrets(options: RedisMetricsOptions): RedisMetricsOptions {
  Object.defineProperty(options, INSPECT, {
    value(this: RedisMetricsOptions) {
      return redactRedisMetricsOptions(this);
    },
    enumerable: false,
  });
  return options;
}
