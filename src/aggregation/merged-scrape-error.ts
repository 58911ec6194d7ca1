/**
 * A merged scrape that cannot be answered right now without a wrong number: Redis lost data and the
 * live processes are still writing theirs again, or the read failed or took too long. The HTTP layer
 * answers 503 with its message (Prometheus then records `up == 0` and `rate()` bridges the gap), or
 * with `scrapeFallback: 'local'` this process's own registry.
 */
export class MergedScrapeUnavailableError extends Error {
  override readonly name = 'MergedScrapeUnavailableError';

  constructor(
    message: string,
    /** Milliseconds after which a scrape may succeed, when known. */
    readonly retryAfterMs?: number,
    // Not the lib's ErrorOptions: apps compiled for ES2021 (older Nest CLIs) lack it.
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
