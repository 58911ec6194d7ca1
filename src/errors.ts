import { hideCommandCredentials } from './command-credentials.js';

/**
 * A configuration value that cannot be used. Thrown at start-up, before anything connects.
 * The message names the variable or option and what is wrong; it never contains a password.
 */
export class RedisMetricsConfigError extends Error {
  override readonly name = 'RedisMetricsConfigError';

  constructor(
    /** The environment variable (`REDIS_PORT`) or option (`option "port"`) that is wrong. */
    readonly setting: string,
    /** What is wrong with it. */
    readonly problem: string,
  ) {
    super(`nestjs-redis-metrics: ${setting} ${problem}`);
  }
}

/** Redis could not be reached or the connection broke. */
export class RedisConnectionError extends Error {
  override readonly name = 'RedisConnectionError';
}

/** Redis did not answer in time. */
export class RedisTimeoutError extends Error {
  override readonly name = 'RedisTimeoutError';
}

/** Redis refused the credentials (wrong password or user, or a password is required). */
export class RedisAuthenticationError extends Error {
  override readonly name = 'RedisAuthenticationError';
}

/** One of the three Redis errors of this module. */
export type RedisMetricsRedisError =
  RedisConnectionError | RedisTimeoutError | RedisAuthenticationError;

const AUTH_PATTERN = /NOAUTH|WRONGPASS|invalid password|invalid username-password|AUTH failed/i;
const TIMEOUT_PATTERN = /timed? ?out|ETIMEDOUT/i;
const CONNECTION_PATTERN =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN|Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries|MaxRetriesPerRequest|LOADING|READONLY|CLUSTERDOWN/i;

/**
 * Maps what ioredis reports to {@link RedisConnectionError}, {@link RedisTimeoutError} or
 * {@link RedisAuthenticationError}; other errors (a bad command, a script error) come back unchanged.
 * The original error is kept as `cause`, the password of a failed HELLO or AUTH on it (ioredis' `command`)
 * replaced by `***`.
 */
export function toRedisError(error: unknown): unknown {
  // The error may be a failed HELLO's (or a command's rejected with it), its password among its args.
  hideCommandCredentials(error);
  if (!(error instanceof Error)) return error;
  if (
    error instanceof RedisConnectionError ||
    error instanceof RedisTimeoutError ||
    error instanceof RedisAuthenticationError
  ) {
    return error;
  }
  const text = `${(error as { code?: string }).code ?? ''} ${error.message}`;
  if (AUTH_PATTERN.test(text)) return new RedisAuthenticationError(error.message, { cause: error });
  if (TIMEOUT_PATTERN.test(text)) return new RedisTimeoutError(error.message, { cause: error });
  if (CONNECTION_PATTERN.test(text))
    return new RedisConnectionError(error.message, { cause: error });
  return error;
}

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 3). */
  maxRetries?: number;
  /** Wait before the second attempt in ms; doubled before each further one (default 1000). */
  delay?: number;
}

/**
 * Runs `fn`, retrying with exponential backoff (delay, 2 × delay, 4 × delay, ...) while it fails with a
 * connection or timeout error (after {@link toRedisError}). An authentication error or any other
 * error is thrown at once; after the last attempt the last error is thrown, mapped.
 */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.maxRetries ?? 3;
  const delay = options.delay ?? 1000;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `withRetry: maxRetries must be a whole number of at least 1; got ${attempts}`,
    );
  }
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await fn();
    } catch (error) {
      const mapped = toRedisError(error);
      const retryable =
        mapped instanceof RedisConnectionError || mapped instanceof RedisTimeoutError;
      if (!retryable || attempt === attempts - 1) throw mapped;
      await new Promise((resolve) => setTimeout(resolve, delay * 2 ** attempt));
    }
  }
}
