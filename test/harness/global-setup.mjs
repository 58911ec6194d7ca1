// @ts-check
// Jest loads global set-up outside its module system, so the harness is plain ESM JavaScript
// (type-checked through JSDoc): see docs/decisions.md.
import { provideTestRedis } from './redis-server.mjs';

/** Provides the run's Redis server and hands its URL to every test worker through the environment. */
export default async function globalSetup() {
  const redis = await provideTestRedis();
  /** @type {any} */ (globalThis).__testRedis = redis;
  process.env.NRM_TEST_REDIS_URL = redis.url;
  process.stdout.write(`\nTests use ${redis.source}.\n`);
}
