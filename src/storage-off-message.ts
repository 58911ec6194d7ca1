import type { RedisMetricsOptions } from './redis-metrics.options.js';
import { listedNames as listed } from './sentence-words.js';

/** The options that say where Redis is, but do not turn storage on by themselves. */
const CONNECTION_OPTIONS = [
  'host',
  'port',
  'db',
  'username',
  'password',
  'ssl',
  'tlsCaFile',
  'tlsCertFile',
  'tlsKeyFile',
  'tlsServername',
] as const satisfies readonly (keyof RedisMetricsOptions)[];

/**
 * The options that turn storage on by themselves. One given as `undefined` (the key is there, its
 * value is not) is most often an environment variable that is not set in this deployment.
 */
const TURN_ON_OPTIONS = ['url', 'client', 'sentinels', 'store'] as const;

/** The start-up line of a manager whose Redis storage is off, and whether it is a warning. */
export interface StorageOffMessage {
  text: string;
  /** Connection options were given and left unused: a mistake more often than not. */
  warning: boolean;
}

/**
 * The start-up line of a manager whose Redis storage is off. A host or port given without
 * `enabled: true` leaves storage off (a host alone may name the app's own Redis), which a user who
 * gave one does not expect: the line names the options left unused, never their values, and is a
 * warning, so that it reaches logs that show warnings only.
 */
export function storageOffMessage(
  given: Partial<RedisMetricsOptions> & Partial<Record<(typeof TURN_ON_OPTIONS)[number], unknown>>,
): StorageOffMessage {
  const base = 'Redis storage is disabled: /metrics serves this process only.';
  // `enabled: false` (said in code, or resolved from the environment, whose line says why) is meant.
  if (given.enabled !== undefined) return { text: base, warning: false };
  // `url: process.env.REDIS_URL` in a deployment that lacks the variable: each process would then
  // answer scrapes with its own counts only, the very fault this module exists to prevent.
  const unset = TURN_ON_OPTIONS.filter((option) => option in given && given[option] === undefined);
  if (unset.length > 0) {
    const text =
      `${base} The ${unset.length === 1 ? 'option' : 'options'} ${listed(unset)} ${unset.length === 1 ? 'was' : 'were'} given as undefined ` +
      '(an environment variable that is not set?): give a Redis URL, or enabled: false to run without Redis on purpose.';
    return { text, warning: true };
  }
  const unused = CONNECTION_OPTIONS.filter((option) => given[option] !== undefined);
  if (unused.length === 0) return { text: base, warning: false };
  const options = unused.length === 1 ? 'option' : 'options';
  const text =
    `${base} The ${options} ${listed(unused)} ${unused.length === 1 ? 'was' : 'were'} given and ${unused.length === 1 ? 'is' : 'are'} ignored: ` +
    'set enabled: true to store metrics in that Redis (a url, a client or sentinels turn storage on by themselves).';
  return { text, warning: true };
}
