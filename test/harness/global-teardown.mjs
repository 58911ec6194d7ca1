// @ts-check
/** Stops the Redis server that global set-up started (a `REDIS_URL` server is left alone). */
export default async function globalTeardown() {
  await /** @type {any} */ (globalThis).__testRedis?.stop();
}
