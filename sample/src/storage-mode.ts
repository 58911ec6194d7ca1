import { readRedisMetricsOptionsFromEnv, redactRedisMetricsOptions } from 'nestjs-redis-metrics';

const REDIS_VARIABLES = ['REDIS_URL', 'PROMETHEUS_REDIS_URL', 'REDIS_HOST', 'REDIS_ENABLED'];

/**
 * Redis when the environment names one (REDIS_URL, or the module's own variables); otherwise the
 * embedded mode: the cluster primary keeps every worker's series in its memory, over IPC, so the sample
 * runs on a machine without Redis and its /metrics is still right across the workers of that host.
 */
export const embedded = !REDIS_VARIABLES.some((name) => process.env[name]);

if (!embedded) {
  // REDIS_URL is the sample's shorthand for the module's variables, read by primary and workers alike.
  process.env.PROMETHEUS_REDIS_URL ??= process.env.REDIS_URL;
  process.env.REDIS_ENABLED ??= 'true';
  process.env.REDIS_KEY_PREFIX ??= 'sample';
}

/** One line for the start-up log saying where metrics are kept, without any password. */
export function describeStorage(): string {
  if (embedded) return 'the memory of the cluster primary (set REDIS_URL to use Redis)';
  const options = redactRedisMetricsOptions(readRedisMetricsOptionsFromEnv());
  return `Redis at ${options.url ?? `${options.host}:${options.port}`}, prefix "${options.keyPrefix}"`;
}
