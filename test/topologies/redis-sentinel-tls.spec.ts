import { jest } from '@jest/globals';
import { Counter, Registry } from 'prom-client';

import { readRedisMetricsOptionsFromEnv, RedisStorageManager } from '../../src/index.js';
import { waitFor } from '../harness/redis-processes.mjs';
import { startRedisSentinel, type RedisSentinelHandle } from '../harness/redis-sentinel.mjs';
import { respCall } from '../harness/resp-call.mjs';
import { uniquePrefix } from '../harness/test-redis.js';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';

// Sentinel and TLS together: the sentinels announce the data servers' TLS ports, so the module's own
// client (REDIS_SENTINELS with REDIS_SSL and a CA file) must speak TLS to the master Sentinel names,
// before and after a failover.

// Five servers, certificates and a failover: more than the default 30 s on a loaded machine.
jest.setTimeout(120_000);

const QUIET = { log: () => undefined, warn: () => undefined, error: () => undefined };
const COUNTER = 'tls_sentinel_writes_total';

let certificates: TestCertificates;
let sentinel: RedisSentinelHandle;
beforeAll(async () => {
  certificates = await makeTestCertificates();
  sentinel = await startRedisSentinel({
    tls: {
      certFile: certificates.serverCertFile,
      keyFile: certificates.serverKeyFile,
      caFile: certificates.caFile,
    },
  });
});
afterAll(async () => {
  await sentinel?.stop();
  await certificates?.remove();
});

describe('Sentinel in front of TLS servers', () => {
  const prefix = uniquePrefix('sentinel-tls');
  const managers: RedisStorageManager[] = [];
  afterAll(async () => {
    for (const manager of managers) await manager.teardown();
    // ioredis 6.0.0 arms a 2 s timer per sentinel connection after a failover that nothing clears
    // (see redis-sentinel.spec.ts): wait them out so the test process ends cleanly.
    await new Promise((resolve) => setTimeout(resolve, 2000));
  });

  function startManager(env: Record<string, string>) {
    const registry = new Registry();
    const counter = new Counter({ name: COUNTER, help: 'Writes', registers: [registry] });
    const manager = new RedisStorageManager(
      {
        ...readRedisMetricsOptionsFromEnv({
          REDIS_ENABLED: 'true',
          REDIS_SENTINELS: sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
          REDIS_SENTINEL_MASTER: sentinel.masterName,
          REDIS_FLUSH_INTERVAL_MS: '100',
          ...env,
        }),
        keyPrefix: prefix,
        registry,
        defaultMetrics: false,
        httpMetrics: false,
      },
      QUIET,
    );
    managers.push(manager);
    return { manager, counter };
  }

  /** The counter's total as one data server holds it (read on its plain port). */
  const totalOn = (plainPort: number) =>
    respCall({ port: plainPort }, 'HGET', `{${prefix}}:totals`, `["${COUNTER}",{}]`);

  it('writes to the TLS master Sentinel names, only with TLS, and follows a failover to the new one', async () => {
    const [master, replica] = sentinel.servers;
    expect(await sentinel.masterAddress()).toEqual({
      host: '127.0.0.1',
      port: sentinel.announcedPorts[0],
    });

    // Without TLS the master Sentinel names cannot be spoken to.
    const plain = startManager({});
    plain.counter.inc(1);
    expect(await plain.manager.setup()).toBe(false);
    const refused = await plain.manager.flush();
    expect(refused?.ok).toBe(false);
    // The master by its address once the client recorded it, else by its name.
    const masterAt = [
      `127.0.0.1:${sentinel.announcedPorts[0]}`,
      `the master "${sentinel.masterName}" (via Sentinel)`,
    ];
    expect(
      masterAt.map(
        (at) =>
          `server closed the connection before answering at ${at} (is it a TLS port? use rediss:// or REDIS_SSL=true; or has it reached its maxclients?)`,
      ),
    ).toContain(refused?.error?.message);

    const secure = startManager({ REDIS_SSL: 'true', REDIS_TLS_CA_FILE: certificates.caFile });
    expect(await secure.manager.setup()).toBe(true);
    secure.counter.inc(3);
    expect((await secure.manager.flush())?.ok).toBe(true);
    expect(await totalOn(master.port)).toBe('v 3');

    const { to } = await sentinel.failover();
    expect(to.port).toBe(sentinel.announcedPorts[1]);
    secure.counter.inc(5);
    // What the old master took after the promotion is repaired, and the count is exact.
    expect(
      await waitFor('the exact count on the new master', async () => {
        await secure.manager.flush();
        return (await totalOn(replica.port)) === 'v 8' ? 'v 8' : undefined;
      }),
    ).toBe('v 8');
    expect((await secure.manager.health()).status).toBe('up');
  });
});
