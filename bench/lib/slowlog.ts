import type { Redis } from 'ioredis';

/** The longest single command Redis ran, by its own clock. */
export interface LongestCall {
  /** Redis-side execution time, ms (SLOWLOG). */
  ms: number;
  /** The command, e.g. `evalsha` or `hscan`. */
  command: string;
}

/**
 * Runs `work` with Redis logging the execution time of every command over 0.1 ms (SLOWLOG) and
 * returns the longest single call: how long one call of the module stopped Redis. Scripts count as
 * one call (Redis runs nothing else meanwhile).
 */
export async function longestCallDuring(
  redis: Redis,
  work: () => Promise<unknown>,
): Promise<LongestCall> {
  const [[, threshold], [, length]] = [
    (await redis.config('GET', 'slowlog-log-slower-than')) as string[],
    (await redis.config('GET', 'slowlog-max-len')) as string[],
  ].map((pair) => [pair[0], pair[1]]);
  // Not 0: Redis 7 logs each command a script runs too (a first flush of 100,000 series made 400,000
  // entries), and logging them all lengthens the very scripts measured. Those take microseconds each.
  await redis.config('SET', 'slowlog-log-slower-than', '100');
  await redis.config('SET', 'slowlog-max-len', '1000000');
  await redis.slowlog('RESET');
  try {
    await work();
    const entries = (await redis.slowlog('GET', '-1')) as [number, number, number, string[]][];
    let longest: LongestCall = { ms: 0, command: '' };
    for (const [, , micros, args] of entries) {
      const command = String(args[0]).toLowerCase();
      if (command === 'slowlog' || command === 'config') continue;
      if (micros / 1000 > longest.ms) longest = { ms: micros / 1000, command };
    }
    return longest;
  } finally {
    // Its entries keep up to 32 arguments of each command logged: a figure of Redis memory read
    // afterwards would count them.
    await redis.slowlog('RESET');
    await redis.config('SET', 'slowlog-log-slower-than', threshold);
    await redis.config('SET', 'slowlog-max-len', length);
  }
}
