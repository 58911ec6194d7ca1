import type { RedisMetricsOptions } from './redis-metrics.options.js';
import { listedNames, TRUE_WORDS } from './sentence-words.js';

/** The options a URL gives itself, in the order a message lists them. */
const URL_OPTIONS = ['host', 'port', 'db', 'username', 'password', 'ssl'] as const;

/** A value as the options resolve it: a number or a word from a config file may stand for it. */
function sameValue(given: unknown, resolved: unknown): boolean {
  if (typeof resolved === 'boolean') {
    return (
      (typeof given === 'boolean' ? given : TRUE_WORDS.has(String(given).toLowerCase())) ===
      resolved
    );
  }
  return String(given) === String(resolved);
}

/**
 * The start-up warning for connection options given in code beside a `url` that the URL overrides: the
 * client connects with the URL's host, port, database, credentials and TLS, so a `password` given
 * beside a URL that holds none was not sent, and the server's NOAUTH was the first sign of it.
 * Options equal to the URL's (options read from the environment and spread into `forRoot()`) are not
 * named. Names options only, never a value.
 *
 * @param given the options as given in code.
 * @param resolved the same, resolved: with a URL, its settings.
 * @returns the warning, or undefined when no option given is overridden.
 */
export function urlOverriddenMessage(
  given: Partial<Record<keyof RedisMetricsOptions, unknown>>,
  resolved: RedisMetricsOptions,
): string | undefined {
  if (given.url === undefined || resolved.url === undefined) return undefined;
  const overridden = URL_OPTIONS.filter(
    (option) => given[option] !== undefined && !sameValue(given[option], resolved[option]),
  );
  if (overridden.length === 0) return undefined;
  const names = listedNames(overridden);
  const one = overridden.length === 1;
  return (
    `The ${one ? 'option' : 'options'} ${names} ${one ? 'was' : 'were'} given beside url and ${one ? 'is' : 'are'} ignored: ` +
    "the client connects with the URL's host, port, database, credentials and TLS. Put them in the URL " +
    '(redis://user:password@host:6379/0, or rediss://), or give them without url.'
  );
}
