import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';

/** The URL of the run's Redis server, set by global set-up. */
export function testRedisUrl(): string {
  const url = process.env.NRM_TEST_REDIS_URL;
  if (!url) throw new Error('NRM_TEST_REDIS_URL is not set: run the tests with `npm test`.');
  return url;
}

/** A client of the run's Redis server; close it in afterAll. */
export function connectTestRedis(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** A key prefix no other test file uses, so files never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${randomBytes(4).toString('hex')}`;
}

/** Every key under a prefix's hash tag (tests only: SCAN is fine here, never in the library). */
export async function keysUnderPrefix(client: Redis, prefix: string): Promise<string[]> {
  const pattern = `{${prefix.replace(/[*?[\]\\]/g, '\\$&')}}:*`;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

/** Deletes every key under a prefix's hash tag. */
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnderPrefix(client, prefix);
  if (keys.length > 0) await client.del(...keys);
}

/** The run's Redis for one spec file, from {@link useTestRedis}. */
export interface SpecRedis {
  /** A client of the run's Redis (open from `beforeAll` to `afterAll`). */
  readonly client: Redis;
  /** A prefix of the file's own, deleted with its keys after the file's tests. */
  prefix(label: string): string;
}

/**
 * Opens a client of the run's Redis before a spec file's tests and, after them, deletes every prefix
 * it handed out and closes the client. Call at the top of a `describe`.
 */
export function useTestRedis(): SpecRedis {
  let client: Redis | undefined;
  const prefixes: string[] = [];
  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client!, prefix);
    await client!.quit();
  });
  return {
    get client() {
      if (!client) throw new Error('useTestRedis: the client opens in beforeAll');
      return client;
    },
    prefix(label) {
      const prefix = uniquePrefix(label);
      prefixes.push(prefix);
      return prefix;
    },
  };
}
