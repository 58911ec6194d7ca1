import { Redis } from 'ioredis';

import { redisNow } from '../../src/index.js';
import { testRedisUrl, useTestRedis } from '../harness/test-redis.js';

/** Redis's TIME in ms, as the test reads it itself. */
async function serverMs(client: Redis): Promise<number> {
  const [seconds, microseconds] = await client.time();
  return Number(seconds) * 1000 + Number(microseconds) / 1000;
}

describe('redisNow', () => {
  const redis = useTestRedis();

  it("is Redis's TIME in ms, with its microseconds", async () => {
    const readings: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const before = await serverMs(redis.client);
      const now = await redisNow(redis.client);
      const after = await serverMs(redis.client);
      expect(now).toBeGreaterThanOrEqual(before);
      expect(now).toBeLessThanOrEqual(after);
      readings.push(now);
    }
    // Date.now() has whole milliseconds only; TIME's microseconds give fractions (all five whole:
    // a chance of 1 in 10^15).
    expect(readings.filter((ms) => !Number.isInteger(ms)).length).toBeGreaterThan(0);
  });

  it('falls back to the local clock when the server cannot answer TIME', async () => {
    const closed = new Redis(testRedisUrl(), { lazyConnect: true, enableOfflineQueue: false });
    closed.on('error', () => undefined);
    const before = Date.now();
    const now = await redisNow(closed);
    const after = Date.now();
    expect(Number.isInteger(now)).toBe(true);
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
    closed.disconnect();
  });
});
