import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import { readRedisMetricsOptionsFromEnv, RedisStorageManager } from '../../src/index.js';
import { startRedisWithAuth, type AuthRedisServer } from '../harness/redis-auth-server.mjs';
import { keysUnderPrefix, uniquePrefix } from '../harness/test-redis.js';

// ioredis reads db, username, password (and family) from a URL's query: the module's resolved options
// must say what its client really connects with, against a real password-protected server.

let server: AuthRedisServer;

beforeAll(async () => {
  server = await startRedisWithAuth();
});

afterAll(async () => {
  await server?.stop();
});

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** The database of each connection the ACL user holds, from the server's CLIENT LIST. */
async function databasesOfUser(admin: Redis, user: string): Promise<number[]> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  return list
    .split('\n')
    .filter((line) => line.includes(` user=${user} `))
    .map((line) => Number(/ db=(\d+) /.exec(line)?.[1]));
}

describe('a URL whose query gives the database and the credentials', () => {
  it('is resolved as its client connects: the ACL user of the query, database 3, and the counts there', async () => {
    const keyPrefix = uniquePrefix('url-query');
    const password = encodeURIComponent(server.userPassword);
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_URL: `redis://127.0.0.1:${server.port}?username=${server.username}&password=${password}&db=3`,
      REDIS_KEY_PREFIX: keyPrefix,
    });
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: server.port,
      db: 3,
      username: server.username,
      password: server.userPassword,
    });

    const registry = new Registry();
    const orders = new Counter({ name: 'orders_total', help: 'Orders.', registers: [registry] });
    orders.inc(4);
    const manager = new RedisStorageManager(
      { ...options, registry, defaultMetrics: false, httpMetrics: false, freshScrapeWaitMs: 0 },
      quiet,
    );
    const admin = new Redis({ port: server.port, password: server.password });
    try {
      expect(await manager.setup()).toBe(true);
      expect(await databasesOfUser(admin, server.username)).toEqual([3]);
      const scrape = await manager.metrics();
      expect(scrape.status).toBe(200);
      expect(scrape.body).toContain('\norders_total 4\n');
      expect(await keysUnderPrefix(admin, keyPrefix)).toEqual([]);
      await admin.select(3);
      expect((await keysUnderPrefix(admin, keyPrefix)).length).toBeGreaterThan(0);
    } finally {
      await manager.teardown();
      admin.disconnect();
    }
  });
});
