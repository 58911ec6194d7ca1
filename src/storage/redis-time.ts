import type { RedisClient } from './lua-scripts.js';

/**
 * Redis server time in ms since the epoch, so every process compares heartbeats on one clock.
 * Falls back to the local clock when the server cannot answer `TIME`.
 */
export async function redisNow(client: RedisClient): Promise<number> {
  try {
    const [seconds, microseconds] = await client.time();
    return Number(seconds) * 1000 + Number(microseconds) / 1000;
  } catch {
    return Date.now();
  }
}
