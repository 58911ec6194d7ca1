import { readRedisMetricsOptionsFromEnv, redactRedisMetricsOptions } from 'nestjs-redis-metrics';

/** The variables that name a Redis server, as the README documents them. */
const REDIS_VARIABLES = ['REDIS_URL', 'PROMETHEUS_REDIS_URL', 'REDIS_HOST', 'REDIS_ENABLED'];

/**
 * Redis when the environment names one (REDIS_URL, or the module's own variables); otherwise the
 * embedded mode: the cluster primary keeps every worker's series in its memory, over IPC, so the sample
 * runs on a machine without Redis and its /metrics is still right across the workers of that host.
 */
export const embedded = !REDIS_VARIABLES.some((name) => process.env[name]);

if (!embedded) {
  // The module reads REDIS_URL and PROMETHEUS_REDIS_URL itself (either turns storage on); REDIS_HOST
  // and its companions need REDIS_ENABLED, which the sample implies. Only variables still unset are
  // given a value: assigning `process.env.X = undefined` would store the string "undefined".
  process.env.REDIS_ENABLED ??= 'true';
  process.env.REDIS_KEY_PREFIX ??= 'sample';
}

/** One line for the start-up log saying where metrics are kept, without any password. */
export function describeStorage(): string {
  if (embedded) return 'the memory of the cluster primary (set REDIS_URL to use Redis)';
  const options = redactRedisMetricsOptions(readRedisMetricsOptionsFromEnv());
  return `Redis at ${options.url ?? `${options.host}:${options.port}/${options.db}`}, prefix "${options.keyPrefix}"`;
}
