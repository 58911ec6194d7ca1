import type { DefaultMetricsCollectorConfiguration, PrometheusContentType } from 'prom-client';

import { RedisMetricsConfigError } from './errors.js';
import type { MetricsAuthOptions } from './metrics-auth.options.js';
import { validLabelName, validMetricName } from './prometheus-names.js';
import type {
  RedisMetricsDefaultMetrics,
  RedisMetricsModuleOptions,
} from './redis-metrics.module-options.js';
import { GAUGE_MODES, type RedisMetricsOptions } from './redis-metrics.options.js';
import type { RedisSentinelAddress } from './sentinel-addresses.js';

// Every name `forRoot()` takes. TypeScript checks the shape of options written in code, but not
// options from JavaScript, from `any`, or from a factory's untyped config: there a misspelt name was
// ignored without a word (`keyprefix`, or `auth: { bearer }`, which left the routes open).
const STORAGE_OPTIONS: Record<keyof RedisMetricsOptions, true> = {
  enabled: true,
  host: true,
  port: true,
  db: true,
  username: true,
  password: true,
  ssl: true,
  tlsCaFile: true,
  tlsCertFile: true,
  tlsKeyFile: true,
  tlsServername: true,
  sentinels: true,
  sentinelMaster: true,
  sentinelPassword: true,
  url: true,
  keyPrefix: true,
  ttlSeconds: true,
  flushIntervalMs: true,
  livenessWindowMs: true,
  defaultGaugeMode: true,
  scrapeTimeoutMs: true,
  scrapeFallback: true,
  freshScrapeWaitMs: true,
  collectIntervalMs: true,
};
const CODE_OPTIONS: Record<
  Exclude<keyof RedisMetricsModuleOptions, keyof RedisMetricsOptions>,
  true
> = {
  client: true,
  store: true,
  registry: true,
  gaugeModes: true,
  identity: true,
  defaultMetrics: true,
  defaultLabels: true,
  customMetricPrefix: true,
  auth: true,
  httpMetrics: true,
};
/**
 * The extras: Nest takes them out of `forRoot()`'s options (redis-metrics.module-definition.ts lists
 * each among the defaults for that), so in the options they come from a `forRootAsync()` factory,
 * which has no say in them.
 */
const EXTRAS = ['isGlobal', 'controller', 'metricsPath', 'healthPath', 'guards'];
const OPTION_NAMES = [...Object.keys(STORAGE_OPTIONS), ...Object.keys(CODE_OPTIONS)];
/**
 * The options of @willsoto/nestjs-prometheus that are named otherwise here, or have no counterpart, by
 * what a migration that kept them is told (the closest name would mislead: `path` is 2 edits from `auth`).
 */
const WILLSOTO_OPTIONS: Record<string, string> = {
  path: `is the name @willsoto/nestjs-prometheus gives the route; here it is the extra "metricsPath" (forRoot({ metricsPath: 'metrics' }), or beside useFactory in forRootAsync())`,
  global:
    'is the name @willsoto/nestjs-prometheus gives it; here it is the extra "isGlobal" (true by default)',
  pushgateway:
    'is not an option of RedisMetricsModule: Prometheus scrapes any process and gets every process, so nothing is pushed',
};

// The names of each nested object option, held by the compiler to the option's type; for the
// `config` passed to prom-client, to the names prom-client's own type defines.
const namesOf = <T>(names: Record<keyof T, true>): string[] => Object.keys(names);
const AUTH_NAMES = namesOf<MetricsAuthOptions>({ bearerToken: true, basic: true });
const BASIC_AUTH_NAMES = namesOf<NonNullable<MetricsAuthOptions['basic']>>({
  username: true,
  password: true,
});
const IDENTITY_NAMES = namesOf<NonNullable<RedisMetricsModuleOptions['identity']>>({
  hostname: true,
  pid: true,
});
const DEFAULT_METRICS_NAMES = namesOf<RedisMetricsDefaultMetrics>({ enabled: true, config: true });
const DEFAULT_METRICS_CONFIG_NAMES = namesOf<
  DefaultMetricsCollectorConfiguration<PrometheusContentType>
>({
  register: true,
  prefix: true,
  gcDurationBuckets: true,
  eventLoopMonitoringPrecision: true,
  labels: true,
});
const SENTINEL_NAMES = namesOf<RedisSentinelAddress>({ host: true, port: true });

/**
 * The objects options hand over, by the methods the module calls on them: anything else would fail
 * later, in the background (a URL given as `client` failed at set-up, after the app had started).
 */
const OBJECT_OPTIONS = {
  client: {
    methods: ['sendCommand', 'on'],
    kind: 'an ioredis Redis or Cluster client (a URL goes in the "url" option)',
  },
  registry: {
    methods: ['getSingleMetric', 'registerMetric', 'setDefaultLabels'],
    kind: 'a prom-client Registry',
  },
  store: {
    methods: ['write', 'rebase', 'end', 'read', 'processIndex'],
    kind: 'a MetricsStore (MemoryMetricsStore, IpcMetricsStore, RedisMetricsStore)',
  },
} as const;

/** What a value is, without showing it (a string given as `client` may be a URL with a password). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object without those methods' : `a ${type}`;
}

/** A value as a message shows it: primitives as written in code, anything else by its kind. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks the names and types of the options `forRoot()` or a `forRootAsync()` factory gave, beyond
 * what `resolveRedisMetricsOptions` checks of the storage options. Values of secrets are never put in
 * a message.
 * @throws RedisMetricsConfigError naming the option and what is wrong with it.
 */
export function checkModuleOptions(options: unknown): void {
  if (!isObject(options)) {
    throw new RedisMetricsConfigError('the options of RedisMetricsModule', 'must be an object');
  }
  const fail = (option: string, problem: string): never => {
    throw new RedisMetricsConfigError(`option "${option}"`, problem);
  };
  for (const extra of EXTRAS) {
    if (options[extra] === undefined) continue;
    fail(
      extra,
      'is an extra, which shapes the module before any factory runs: give it to forRootAsync() beside useFactory (or useClass), not in the options the factory returns',
    );
  }
  for (const [name, problem] of Object.entries(WILLSOTO_OPTIONS)) {
    if (options[name] !== undefined) fail(name, problem);
  }
  checkNames(
    options,
    OPTION_NAMES,
    (name) => `option "${name}"`,
    'an option of RedisMetricsModule',
  );
  const {
    gaugeModes,
    httpMetrics,
    auth,
    customMetricPrefix,
    defaultLabels,
    identity,
    defaultMetrics,
    sentinels,
  } = options;
  for (const [option, { methods, kind }] of Object.entries(OBJECT_OPTIONS)) {
    const value = options[option];
    if (value === undefined) continue;
    const usable =
      typeof value === 'object' &&
      value !== null &&
      methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');
    if (!usable) fail(option, `must be ${kind}; got ${kindOf(value)}`);
  }
  if (gaugeModes !== undefined) {
    if (!isObject(gaugeModes)) fail('gaugeModes', 'must be an object: gauge name -> mode');
    for (const [name, mode] of Object.entries(gaugeModes as object)) {
      // Unset (a variable that is not there): the gauge takes defaultGaugeMode.
      if (mode === undefined || (GAUGE_MODES as readonly unknown[]).includes(mode)) continue;
      fail(
        'gaugeModes',
        `gives gauge "${name}" the mode ${shown(mode)}; a mode is one of ${GAUGE_MODES.join(', ')}`,
      );
    }
  }
  if (httpMetrics !== undefined && typeof httpMetrics !== 'boolean') {
    fail('httpMetrics', `must be true or false; got ${shown(httpMetrics)}`);
  }
  if (customMetricPrefix !== undefined && typeof customMetricPrefix !== 'string') {
    fail('customMetricPrefix', 'must be a string');
  }
  // Names Prometheus refuses fail later and elsewhere: prom-client's 'Invalid metric name' when the
  // first metric is made, and a default label on every series, which no scrape could then serve.
  if (customMetricPrefix) checkMetricPrefix('option "customMetricPrefix"', customMetricPrefix);
  if (defaultLabels !== undefined) checkLabels('option "defaultLabels"', defaultLabels);
  if (identity !== undefined) {
    if (isObject(identity)) {
      checkNames(
        identity,
        IDENTITY_NAMES,
        (name) => `option "identity.${name}"`,
        'a setting of identity',
      );
    }
    if (!validIdentity(identity)) {
      fail('identity', 'must be { hostname?: a non-empty string, pid?: a whole number }');
    }
  }
  if (auth !== undefined) checkAuth(auth);
  if (defaultMetrics !== undefined) checkDefaultMetrics(defaultMetrics);
  if (Array.isArray(sentinels)) {
    // Addresses as a list of objects: a string list (from the environment) has no names to check.
    for (const [index, sentinel] of sentinels.entries()) {
      if (!isObject(sentinel)) continue;
      checkNames(
        sentinel,
        SENTINEL_NAMES,
        (name) => `option "sentinels[${index}].${name}"`,
        'a setting of a sentinel address',
      );
    }
  }
}

/**
 * `defaultMetrics` is true, false or `{ enabled, config }`; `config` goes to prom-client's
 * `collectDefaultMetrics`, which ignores names it does not know (a `prefx` left the names unprefixed).
 */
function checkDefaultMetrics(defaultMetrics: unknown): void {
  if (typeof defaultMetrics === 'boolean') return;
  if (!isObject(defaultMetrics)) {
    throw new RedisMetricsConfigError(
      'option "defaultMetrics"',
      `must be true, false or { enabled, config }; got ${shown(defaultMetrics)}`,
    );
  }
  for (const [name, value] of Object.entries(defaultMetrics)) {
    // A setting of config given one level up (`defaultMetrics: { prefix }`) says where it belongs.
    if (value !== undefined && name !== 'register' && DEFAULT_METRICS_CONFIG_NAMES.includes(name)) {
      throw new RedisMetricsConfigError(
        `option "defaultMetrics.${name}"`,
        `is not a setting of defaultMetrics; did you mean "config.${name}"? (defaultMetrics: { enabled: true, config: { ${name} } })`,
      );
    }
  }
  checkNames(
    defaultMetrics,
    DEFAULT_METRICS_NAMES,
    (name) => `option "defaultMetrics.${name}"`,
    'a setting of defaultMetrics',
  );
  const { config } = defaultMetrics;
  if (config === undefined) return;
  if (!isObject(config)) {
    throw new RedisMetricsConfigError(
      'option "defaultMetrics.config"',
      `must be an object of collectDefaultMetrics settings; got ${shown(config)}`,
    );
  }
  if (config.register !== undefined) {
    throw new RedisMetricsConfigError(
      'option "defaultMetrics.config.register"',
      'is set by the module (its registry): give the registry as the "registry" option',
    );
  }
  checkNames(
    config,
    DEFAULT_METRICS_CONFIG_NAMES,
    (name) => `option "defaultMetrics.config.${name}"`,
    "a setting of prom-client's collectDefaultMetrics",
  );
  // prom-client takes both as they are: names Prometheus refuses would leave every default metric out
  // of merged scrapes (or make an exposition Prometheus cannot parse) rather than stop start-up.
  if (config.prefix) checkMetricPrefix('option "defaultMetrics.config.prefix"', config.prefix);
  if (config.labels !== undefined)
    checkLabels('option "defaultMetrics.config.labels"', config.labels);
}

/** A prefix of metric names: with `_` after it, the start of a name Prometheus accepts. */
function checkMetricPrefix(option: string, prefix: unknown): void {
  if (typeof prefix === 'string' && validMetricName(`${prefix}_`)) return;
  throw new RedisMetricsConfigError(
    option,
    `must start metric names Prometheus accepts (letters, digits, _ and :, not a digit first); got ${shown(prefix)}`,
  );
}

/** Label names Prometheus gives a meaning of its own, and who uses them. */
const RESERVED_LABELS = new Map([
  ['le', 'histogram buckets'],
  ['quantile', 'summary quantiles'],
]);

/** Labels added to every series: names Prometheus accepts, values it can show. */
function checkLabels(option: string, labels: unknown): void {
  const values = isObject(labels) ? Object.values(labels) : [undefined];
  if (values.some((value) => typeof value !== 'string' && typeof value !== 'number')) {
    throw new RedisMetricsConfigError(
      option,
      'must be an object of label name -> string or number',
    );
  }
  const bad = Object.keys(labels as object).find((name) => !validLabelName(name));
  if (bad !== undefined) {
    throw new RedisMetricsConfigError(
      option,
      `has the label name ${shown(bad)}, which Prometheus does not accept (letters, digits and _, not a digit first, not __ first)`,
    );
  }
  // prom-client refuses these on a histogram or summary, but not as labels added to every series: the
  // merged scrape would then read every bucket or quantile as a series of its own and serve none.
  const reserved = Object.keys(labels as object).find((name) => RESERVED_LABELS.has(name));
  if (reserved !== undefined) {
    throw new RedisMetricsConfigError(
      option,
      `has the label name "${reserved}", which ${RESERVED_LABELS.get(reserved)} use for their own: rename it`,
    );
  }
}

function validIdentity(identity: unknown): boolean {
  if (!isObject(identity)) return false;
  const { hostname, pid } = identity;
  const hostnameOk = hostname === undefined || (typeof hostname === 'string' && hostname !== '');
  const pidOk = pid === undefined || (Number.isSafeInteger(pid) && (pid as number) >= 0);
  return hostnameOk && pidOk;
}

/** An `auth` option with nothing a scraper can match would leave the routes open: it is refused. */
function checkAuth(auth: unknown): void {
  const fail = (problem: string): never => {
    throw new RedisMetricsConfigError('option "auth"', problem);
  };
  if (!isObject(auth)) return fail('must be an object: { bearerToken?, basic? }');
  checkNames(auth, AUTH_NAMES, (name) => `option "auth.${name}"`, 'a setting of auth');
  const { bearerToken, basic } = auth;
  if (isObject(basic)) {
    checkNames(
      basic,
      BASIC_AUTH_NAMES,
      (name) => `option "auth.basic.${name}"`,
      'a setting of auth.basic',
    );
  }
  if (bearerToken !== undefined && (typeof bearerToken !== 'string' || bearerToken === '')) {
    fail('has a bearerToken that is not a non-empty string');
  }
  // HTTP drops the whitespace around a header value: such a token could never be matched.
  if (typeof bearerToken === 'string' && bearerToken.trim() !== bearerToken) {
    fail(
      'has a bearerToken that starts or ends with whitespace, which no Authorization header carries',
    );
  }
  // Node reads a header's bytes as Latin-1, and curl and Prometheus send a token's bytes as UTF-8.
  if (typeof bearerToken === 'string' && /[^\x20-\x7e]/.test(bearerToken)) {
    fail(
      'has a bearerToken with a character outside printable ASCII: scrapers send it as UTF-8, which the routes read as Latin-1, so it would never match',
    );
  }
  if (basic !== undefined) {
    const { username, password } = isObject(basic) ? basic : {};
    if (typeof username !== 'string' || username === '' || typeof password !== 'string') {
      fail('has basic credentials without a non-empty username and a password string');
    }
    // `user:pass` is split at its first ":" (RFC 7617), so such a user could never be matched.
    if ((username as string).includes(':')) {
      fail(
        'has a basic username with a ":", which Basic auth cannot carry (the first ":" ends the user name)',
      );
    }
    // The user name is rarely a secret (`prometheus`): with no password it would be the only check.
    if (password === '') {
      fail(
        'has basic credentials with an empty password, which anyone who sends the user name would pass',
      );
    }
  }
  if (bearerToken === undefined && basic === undefined) {
    fail('has neither bearerToken nor basic: the routes would be open to anyone');
  }
}

/** Refuses a name that is not among `known` (with a value), suggesting the one it is closest to. */
function checkNames(
  given: Record<string, unknown>,
  known: readonly string[],
  nameOf: (name: string) => string,
  what: string,
): void {
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined || known.includes(name)) continue;
    const closest = closestName(name, known);
    const hint = closest === undefined ? '' : `; did you mean "${closest}"?`;
    throw new RedisMetricsConfigError(nameOf(name), `is not ${what}${hint}`);
  }
}

/**
 * The known name a misspelt one is likely meant to be: the same letters in another case, the start of
 * it (`bearer` for `bearerToken`), or at most 2 edits away.
 */
function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    const distance = other === lower ? 0 : other.startsWith(lower) ? 1 : editDistance(lower, other);
    if (distance <= 2 && (best === undefined || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }
  return best?.name;
}

/** Levenshtein distance: the fewest inserted, deleted or replaced characters from `a` to `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const replace = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(replace, previous[j] + 1, current[j - 1] + 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Checks the extras of `forRoot()`/`forRootAsync()` that shape the routes.
 * @throws RedisMetricsConfigError naming the extra and what is wrong with it.
 */
export function checkModuleExtras(extras: Record<string, unknown>): void {
  const fail = (extra: string, problem: string): never => {
    throw new RedisMetricsConfigError(`extra "${extra}"`, problem);
  };
  const { metricsPath, healthPath, controller, isGlobal, guards } = extras;
  if (metricsPath !== undefined && typeof metricsPath !== 'string') {
    fail('metricsPath', `must be a path such as "metrics"; got ${shown(metricsPath)}`);
  }
  if (healthPath !== undefined && healthPath !== false && typeof healthPath !== 'string') {
    fail('healthPath', `must be a path or false; got ${shown(healthPath)}`);
  }
  if (
    controller !== undefined &&
    typeof controller !== 'boolean' &&
    typeof controller !== 'function'
  ) {
    fail('controller', 'must be true, false or a subclass of RedisMetricsController');
  }
  if (isGlobal !== undefined && typeof isGlobal !== 'boolean') {
    fail('isGlobal', `must be true or false; got ${shown(isGlobal)}`);
  }
  if (guards !== undefined && !Array.isArray(guards)) fail('guards', 'must be an array of guards');
  // The module's own controller maps both paths: one path for both answered with one of the two routes
  // on Express, without a word, and stopped Fastify with its own "already declared" error.
  const samePath = (path: string) => path.replace(/^\/+|\/+$/g, '');
  if (
    (controller === undefined || controller === true) &&
    typeof healthPath === 'string' &&
    samePath(healthPath) === samePath(typeof metricsPath === 'string' ? metricsPath : 'metrics')
  ) {
    fail(
      'healthPath',
      `is the path of the metrics route too ("${samePath(healthPath)}"): one route would hide the other; give it another path, or false for none`,
    );
  }
}
