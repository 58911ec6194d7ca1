import { Counter, Registry } from 'prom-client';

import { readRedisMetricsOptionsFromEnv, RedisStorageManager } from '../../src/index.js';
import { startTlsRedis, type TlsRedisServer } from '../harness/redis-tls-server.mjs';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';
import { uniquePrefix } from '../harness/test-redis.js';

const QUIET = { log: () => undefined, warn: () => undefined, error: () => undefined };

let certificates: TestCertificates;
let clientCertificateRequired: TlsRedisServer;

beforeAll(async () => {
  certificates = await makeTestCertificates();
  clientCertificateRequired = await startTlsRedis({ certificates, clientCertificates: 'yes' });
});
afterAll(async () => {
  await clientCertificateRequired?.stop();
  await certificates?.remove();
});

// In a spec of test/storage so that it runs on ioredis 5 too (scripts/test-consumer-app.sh), whose
// every second failed attempt rejects the commands of the connection being set up (AUTH, the ready
// check) with "Reached the max retries per request limit" and emits that as an 'error' event: not a
// cause, which must not take the place of the one the server gave.
describe('a connection that keeps failing the same way', () => {
  it('a server requiring a client certificate, given none: named so at every attempt, not by the commands ioredis gave up on', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'tls_writes_total',
      help: 'Writes',
      registers: [registry],
    });
    const manager = new RedisStorageManager(
      {
        ...readRedisMetricsOptionsFromEnv({
          REDIS_ENABLED: 'true',
          // With a password, AUTH is the first command of each attempt.
          PROMETHEUS_REDIS_URL: `rediss://:secret@127.0.0.1:${clientCertificateRequired.port}`,
          REDIS_TLS_CA_FILE: certificates.caFile,
        }),
        keyPrefix: uniquePrefix('tls-reconnect'),
        registry,
        defaultMetrics: false,
        httpMetrics: false,
      },
      QUIET,
    );
    const at = `127.0.0.1:${clientCertificateRequired.port}`;
    // Which of the two the client notices first (the server's alert or its hang-up) is a race.
    const causes = [
      `TLS: ${at} requires a client certificate (set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)`,
      `server closed the connection during TLS set-up at ${at} (does it require a client certificate? set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)`,
    ];
    const named = new Set<string>();
    try {
      expect(await manager.setup()).toBe(false);
      // The client tries again after 200 ms, 400 ms, ...: 4 s span several attempts.
      for (let i = 0; i < 16; i += 1) {
        counter.inc();
        await manager.flush();
        named.add(String((await manager.health()).error));
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      await manager.teardown();
    }
    expect([...named].filter((error) => !causes.includes(error))).toEqual([]);
  });
});
