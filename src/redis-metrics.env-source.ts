import { FALSE_WORDS, listedNames as listed, TRUE_WORDS } from './sentence-words.js';

/** Where the environment names a Redis server for metrics: the variable that won and its value. */
export interface RedisUrlSource {
  /** `PROMETHEUS_REDIS_URL` or `REDIS_URL`. */
  variable: 'PROMETHEUS_REDIS_URL' | 'REDIS_URL';
  url: string;
}

// The variables that say where Redis is, but do not turn storage on by themselves (a REDIS_HOST may
// name the app's own Redis).
const CONNECTION_VARIABLES = [
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'REDIS_PASSWORD',
  'REDIS_SSL',
  'REDIS_TLS_CA_FILE',
  'REDIS_TLS_CERT_FILE',
  'REDIS_TLS_KEY_FILE',
  'REDIS_TLS_SERVERNAME',
];

// What a URL gives itself: with one, these variables are not read. The TLS files apply to a rediss:// URL.
const URL_SETTINGS = ['REDIS_HOST', 'REDIS_PORT', 'REDIS_DB', 'REDIS_PASSWORD', 'REDIS_SSL'];

function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * @internal `REDIS_KEY_PREFIX` as `readRedisMetricsOptionsFromEnv` reads it (trimmed, empty as
 * unset), for readers of the prefix that take no other setting from the environment.
 */
export function keyPrefixFromEnv(
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  return setting(env, 'REDIS_KEY_PREFIX');
}

/**
 * The Redis URL of the environment: `PROMETHEUS_REDIS_URL`, else `REDIS_URL`, the name most platforms and
 * the sample use. The module's own variable wins so that an app whose `REDIS_URL` is its cache can keep
 * metrics elsewhere.
 */
export function redisUrlFromEnv(
  env: Record<string, string | undefined> = process.env,
): RedisUrlSource | undefined {
  const own = setting(env, 'PROMETHEUS_REDIS_URL');
  if (own !== undefined) return { variable: 'PROMETHEUS_REDIS_URL', url: own };
  const common = setting(env, 'REDIS_URL');
  return common === undefined ? undefined : { variable: 'REDIS_URL', url: common };
}

/**
 * One line saying whether the environment turns Redis storage on and which variable decided it, for the
 * start-up log. Names variables only, never a value (a URL may carry a password).
 */
export function describeRedisMetricsEnv(
  env: Record<string, string | undefined> = process.env,
): string {
  let source = redisUrlFromEnv(env);
  const enabled = setting(env, 'REDIS_ENABLED')?.toLowerCase();
  const sentinels = setting(env, 'REDIS_SENTINELS') !== undefined;
  // As readRedisMetricsOptionsFromEnv: with sentinels, a REDIS_URL names something else.
  const urlLeftAlone = sentinels && source?.variable === 'REDIS_URL';
  if (urlLeftAlone) source = undefined;
  const ignored =
    urlLeftAlone ||
    (source?.variable === 'PROMETHEUS_REDIS_URL' && setting(env, 'REDIS_URL') !== undefined)
      ? ' (REDIS_URL is set too and left alone)'
      : '';
  // A REDIS_PASSWORD beside a URL without one (as platforms set both) was dropped without a word here,
  // and the server's NOAUTH was the first sign of it.
  const settingsLeftAlone = URL_SETTINGS.filter((variable) => setting(env, variable) !== undefined);
  const leftAlone = [...(ignored ? ['REDIS_URL'] : []), ...settingsLeftAlone];
  const why =
    settingsLeftAlone.length > 0 ? ': the URL names the server, database, credentials and TLS' : '';
  const besideUrl =
    leftAlone.length === 0
      ? ''
      : ` (${listed(leftAlone)} ${leftAlone.length === 1 ? 'is' : 'are'} set too and left alone${why})`;
  if (enabled !== undefined && FALSE_WORDS.has(enabled)) {
    const although = source ? source.variable : sentinels ? 'REDIS_SENTINELS' : undefined;
    return `Redis metrics storage off: REDIS_ENABLED=${enabled}${although ? `, although ${although} is set` : ''}.`;
  }
  if (source) return `Redis metrics storage on: the URL of ${source.variable}${besideUrl}.`;
  const on = enabled !== undefined && TRUE_WORDS.has(enabled);
  if (sentinels) {
    return on
      ? `Redis metrics storage on: REDIS_ENABLED, through the sentinels of REDIS_SENTINELS${ignored}.`
      : `Redis metrics storage off: REDIS_SENTINELS is set, but not REDIS_ENABLED=true${ignored}.`;
  }
  if (on) {
    return 'Redis metrics storage on: REDIS_ENABLED with REDIS_HOST, REDIS_PORT and REDIS_DB (or their defaults).';
  }
  const unused = CONNECTION_VARIABLES.filter((variable) => setting(env, variable) !== undefined);
  if (unused.length > 0) {
    return `Redis metrics storage off: ${listed(unused)} ${unused.length === 1 ? 'is' : 'are'} set but ignored without REDIS_ENABLED=true (or a URL in PROMETHEUS_REDIS_URL or REDIS_URL, which turns storage on by itself).`;
  }
  // The environment's part only: options in code (the sample's IpcMetricsStore, say) may still turn it on.
  return 'Redis metrics storage off in the environment: neither PROMETHEUS_REDIS_URL, REDIS_URL nor REDIS_ENABLED is set (a client, url or store given in code turns it on).';
}
