import 'reflect-metadata';

import { readFileSync } from 'node:fs';

import { Controller, Injectable, Module, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';
import request from 'supertest';

import {
  readRedisMetricsOptionsFromEnv,
  RedisMetricsModule,
  RedisMetricsService,
  RedisMultiProcessCollector,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { startTlsRedis, type TlsRedisServer } from '../harness/redis-tls-server.mjs';
import { respCall } from '../harness/resp-call.mjs';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';
import { testFlusher } from '../harness/test-flusher.js';
import { uniquePrefix } from '../harness/test-redis.js';
import { sampleValue } from './exposition-sample.js';

const QUIET = { log: () => undefined, warn: () => undefined, error: () => undefined };

let certificates: TestCertificates;
let server: TlsRedisServer;
let mismatched: TlsRedisServer;
let clientCertificateRequired: TlsRedisServer;

beforeAll(async () => {
  certificates = await makeTestCertificates();
  [server, mismatched, clientCertificateRequired] = await Promise.all([
    startTlsRedis({ certificates }),
    startTlsRedis({ certificates, certificate: 'mismatched' }),
    startTlsRedis({ certificates, clientCertificates: 'yes' }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), mismatched?.stop(), clientCertificateRequired?.stop()]);
  await certificates?.remove();
});

describe('the TLS harness', () => {
  it('serves TLS only, with a certificate for 127.0.0.1 signed by the test CA', async () => {
    const ca = readFileSync(certificates.caFile);
    await expect(respCall({ port: server.port, tls: { ca } }, 'PING')).resolves.toBe('PONG');
    await expect(respCall({ port: server.port, tls: {} }, 'PING')).rejects.toThrow(
      'self-signed certificate in certificate chain',
    );
    await expect(
      respCall(
        { port: server.port, tls: { ca: readFileSync(certificates.untrustedCaFile) } },
        'PING',
      ),
    ).rejects.toThrow('self-signed certificate in certificate chain');
    await expect(respCall({ port: mismatched.port, tls: { ca } }, 'PING')).rejects.toThrow(
      "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list: ",
    );
    // A plain client is hung up on (a reset, as it sent bytes the server did not read).
    await expect(respCall({ port: server.port, timeoutMs: 500 }, 'PING')).rejects.toThrow(
      'read ECONNRESET',
    );
  });
});

/** A manager with one counter, connected with the given options; counts, flushes and scrapes. */
async function countThrough(options: RedisMetricsModuleOptions, increments: number) {
  const registry = new Registry();
  const counter = new Counter({ name: 'tls_writes_total', help: 'Writes', registers: [registry] });
  const manager = new RedisStorageManager(
    {
      keyPrefix: uniquePrefix('tls'),
      ...options,
      registry,
      defaultMetrics: false,
      httpMetrics: false,
    },
    QUIET,
  );
  try {
    const connected = await manager.setup();
    counter.inc(increments);
    const flushed = await manager.flush();
    const { body } = await manager.metrics();
    const health = await manager.health();
    return {
      connected,
      flushed: flushed?.ok,
      count: sampleValue(body, 'tls_writes_total'),
      health,
    };
  } finally {
    await manager.teardown();
  }
}

describe('the module over TLS', () => {
  it('trusts the CA of REDIS_TLS_CA_FILE', async () => {
    const result = await countThrough(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(server.port),
        REDIS_SSL: 'true',
        REDIS_TLS_CA_FILE: certificates.caFile,
      }),
      3,
    );
    expect(result).toMatchObject({ connected: true, flushed: true, count: 3 });
    expect(result.health.status).toBe('up');
  });

  it('trusts the CA of the tlsCaFile option, in an app made with RedisMetricsModule.forRoot', async () => {
    @Injectable()
    class Jobs {
      readonly done;
      constructor(metrics: RedisMetricsService) {
        this.done = metrics.counter({ name: 'jobs_done_total', help: 'Jobs done' });
      }
    }
    @Controller()
    class JobsController {
      constructor(private readonly jobs: Jobs) {}
      @Post('jobs')
      run(): string {
        this.jobs.done.inc();
        return 'ok';
      }
    }
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: server.url,
          tlsCaFile: certificates.caFile,
          keyPrefix: uniquePrefix('tls-app'),
          registry: new Registry(),
          defaultMetrics: false,
          httpMetrics: false,
        }),
      ],
      controllers: [JobsController],
      providers: [Jobs],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      for (let i = 0; i < 4; i += 1) await request(app.getHttpServer()).post('/jobs').expect(201);
      expect((await app.get(RedisStorageManager).flush())?.ok).toBe(true);
      const scrape = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(sampleValue(scrape.text, 'jobs_done_total')).toBe(4);
      const health = await request(app.getHttpServer()).get('/metrics/health').expect(200);
      expect(health.body.status).toBe('up');
    } finally {
      await app.close();
    }
  });

  it('checks the certificate against REDIS_TLS_SERVERNAME instead of the host', async () => {
    const result = await countThrough(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        PROMETHEUS_REDIS_URL: mismatched.url,
        REDIS_TLS_CA_FILE: certificates.caFile,
        REDIS_TLS_SERVERNAME: 'wrong.example',
      }),
      2,
    );
    expect(result).toMatchObject({ connected: true, flushed: true, count: 2 });
  });

  it('presents the client certificate of REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE', async () => {
    const env = {
      REDIS_ENABLED: 'true',
      PROMETHEUS_REDIS_URL: clientCertificateRequired.url,
      REDIS_TLS_CA_FILE: certificates.caFile,
    };
    const result = await countThrough(
      readRedisMetricsOptionsFromEnv({
        ...env,
        REDIS_TLS_CERT_FILE: certificates.clientCertFile,
        REDIS_TLS_KEY_FILE: certificates.clientKeyFile,
      }),
      5,
    );
    expect(result).toMatchObject({ connected: true, flushed: true, count: 5 });

    // Without one, the server hangs up during the handshake; which of the two the client notices
    // first (the alert or the reset) is a race.
    const refused = await countThrough(readRedisMetricsOptionsFromEnv(env), 1);
    const at = `127.0.0.1:${clientCertificateRequired.port}`;
    expect(refused.connected).toBe(false);
    expect([
      `TLS: ${at} requires a client certificate (set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)`,
      `server closed the connection during TLS set-up at ${at} (does it require a client certificate? set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE)`,
    ]).toContain(refused.health.error);
  });

  it('gives a RedisMultiProcessCollector made from PROMETHEUS_REDIS_URL the CA of REDIS_TLS_CA_FILE, as the module', async () => {
    const registry = new Registry();
    new Counter({ name: 'collected_total', help: 'Counted', registers: [registry] }).inc(4);
    const prefix = uniquePrefix('tls-collector');
    const writer = new Redis(server.port, '127.0.0.1', {
      tls: { ca: readFileSync(certificates.caFile) },
    });
    const saved = { ...process.env };
    try {
      await testFlusher(writer, prefix, registry).flush();
      process.env.PROMETHEUS_REDIS_URL = server.url;
      process.env.REDIS_TLS_CA_FILE = certificates.caFile;
      const collector = new RedisMultiProcessCollector({ keyPrefix: prefix });
      try {
        expect(await collector.metrics()).toBe(
          '# HELP collected_total Counted\n# TYPE collected_total counter\ncollected_total 4\n',
        );
      } finally {
        await collector.close();
      }
    } finally {
      process.env = saved;
      writer.disconnect();
    }
  });
});
