import type { RedisMetricsOptions } from './redis-metrics.options.js';

type Option = keyof RedisMetricsOptions;

/**
 * What an error's hint calls the settings of a client, so that it names what the user set: the
 * environment variables the options were read from, or the options given in code.
 */
export interface SettingNames {
  /** Whether the options came from the environment. */
  fromEnv: boolean;
  /** Whether the address (and any user and password) came from a URL. */
  url: boolean;
  /**
   * The setting as the user sets it: `REDIS_PORT`, `REDIS_URL`, or `the port option`; `undefined`
   * when it cannot be set that way (no variable holds a username).
   */
  of(option: Option): string | undefined;
  /** Whether they are the options of an ioredis client of the user's (the `client` option). */
  client?: boolean;
}

/** The ioredis option that holds a setting where the module's option of the same use has another name. */
const IOREDIS_OPTION: Partial<Record<Option, string>> = {
  ssl: 'tls',
  tlsCaFile: 'tls.ca',
  tlsCertFile: 'tls.cert',
  tlsKeyFile: 'tls.key',
  tlsServername: 'tls.servername',
  sentinelMaster: 'name',
};

/**
 * The names of the settings of an ioredis `Redis` client the user made and passed in: its own options
 * (`the client's host / port options`), which the user set, not the module's or the environment's.
 */
export function clientSettingNames(): SettingNames {
  return {
    fromEnv: false,
    url: false,
    client: true,
    of: (option) => `the client's ${IOREDIS_OPTION[option] ?? option} option`,
  };
}

/**
 * The settings of the last read of the environment: each variable with the value it gave (or its
 * default). Kept by value, not by object, as options read from the environment are usually spread
 * into the object given to forRoot() with a few more (`{ ...readRedisMetricsOptionsFromEnv(), registry }`).
 */
let lastEnvRead = new Map<Option, { variable: string; value: unknown }>();

/** @internal Called by `readRedisMetricsOptionsFromEnv` with what it read and resolved. */
export function rememberEnvRead(
  variableOf: Partial<Record<Option, string>>,
  resolved: RedisMetricsOptions,
): void {
  lastEnvRead = new Map();
  for (const [option, variable] of Object.entries(variableOf) as [Option, string][]) {
    lastEnvRead.set(option, { variable, value: resolved[option] });
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The names of the settings of these options: those of the environment when the address settings hold
 * what the environment gave (the URL, or the host and port), else those of the options in code.
 */
export function settingNamesOf(given: Partial<RedisMetricsOptions>): SettingNames {
  const url = given.url !== undefined;
  const address: Option[] = url ? ['url'] : given.sentinels ? ['sentinels'] : ['host', 'port'];
  const fromEnv = address.every((option) => {
    const read = lastEnvRead.get(option);
    return read !== undefined && read.value !== undefined && same(read.value, given[option]);
  });
  return {
    fromEnv,
    url,
    of: (option) => (fromEnv ? lastEnvRead.get(option)?.variable : `the ${option} option`),
  };
}
