import { RedisMetricsConfigError } from './errors.js';
import type { RedisMetricsModuleOptions } from './redis-metrics.module-options.js';
import { GAUGE_MODES, type RedisMetricsOptions } from './redis-metrics.options.js';

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
const AUTH_NAMES = ['bearerToken', 'basic'];

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
  checkNames(
    options,
    OPTION_NAMES,
    (name) => `option "${name}"`,
    'an option of RedisMetricsModule',
  );
  const { gaugeModes, httpMetrics, auth, customMetricPrefix, defaultLabels, identity } = options;
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
  if (defaultLabels !== undefined) {
    const values = isObject(defaultLabels) ? Object.values(defaultLabels) : [undefined];
    if (values.some((value) => typeof value !== 'string' && typeof value !== 'number')) {
      fail('defaultLabels', 'must be an object of label name -> string or number');
    }
  }
  if (identity !== undefined && !validIdentity(identity)) {
    fail('identity', 'must be { hostname?: a non-empty string, pid?: a whole number }');
  }
  if (auth !== undefined) checkAuth(auth);
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
  if (bearerToken !== undefined && (typeof bearerToken !== 'string' || bearerToken === '')) {
    fail('has a bearerToken that is not a non-empty string');
  }
  if (basic !== undefined) {
    const { username, password } = isObject(basic) ? basic : {};
    if (typeof username !== 'string' || username === '' || typeof password !== 'string') {
      fail('has basic credentials without a non-empty username and a password string');
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
}
