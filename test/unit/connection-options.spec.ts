import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  readRedisMetricsOptionsFromEnv,
  redactRedisMetricsOptions,
  RedisMetricsConfigError,
  resolveRedisMetricsOptions,
} from '../../src/index.js';
import { makeTestCertificates } from '../harness/tls-certificates.mjs';

// TLS files and Sentinel settings: read from the environment or given in code, and every bad value
// stops start-up with an error naming the setting and the problem (and a file's path, never a secret).

const SECRET = 'k3y-m4teri4l-and-pa55';
let dir: string;
let pem: string;
let notPem: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nrm-options-'));
  pem = join(dir, 'ca.pem');
  notPem = join(dir, 'ca.der');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(notPem, `binary ${SECRET}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(env: Record<string, string>): RedisMetricsConfigError {
  try {
    readRedisMetricsOptionsFromEnv(env);
  } catch (error) {
    if (error instanceof RedisMetricsConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(Object.keys(env))}`);
}

describe('TLS options', () => {
  it('reads the CA, client certificate, key and server name from the environment', () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_SSL: 'true',
      REDIS_TLS_CA_FILE: pem,
      REDIS_TLS_CERT_FILE: pem,
      REDIS_TLS_KEY_FILE: pem,
      REDIS_TLS_SERVERNAME: 'redis.internal',
    });
    expect(options).toMatchObject({
      ssl: true,
      tlsCaFile: pem,
      tlsCertFile: pem,
      tlsKeyFile: pem,
      tlsServername: 'redis.internal',
    });
  });

  it('takes them as options in code too, with a rediss:// URL', () => {
    expect(
      resolveRedisMetricsOptions({ url: 'rediss://cache:6380', tlsCaFile: pem }),
    ).toMatchObject({ ssl: true, host: 'cache', port: 6380, tlsCaFile: pem });
  });

  it.each([
    [
      { REDIS_SSL: 'true', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' },
      'nestjs-redis-metrics: REDIS_TLS_CA_FILE cannot be read: /nonexistent/ca.pem (no such file)',
    ],
    [
      { REDIS_SSL: 'true', REDIS_TLS_CA_FILE: '/' },
      'nestjs-redis-metrics: REDIS_TLS_CA_FILE cannot be read: / (it is a directory)',
    ],
    [
      { REDIS_TLS_CA_FILE: 'PEM' },
      'nestjs-redis-metrics: REDIS_TLS_CA_FILE is set, but TLS is off: set REDIS_SSL to true or use a rediss:// URL',
    ],
    [
      { REDIS_SSL: 'false', REDIS_TLS_SERVERNAME: 'redis.internal' },
      'nestjs-redis-metrics: REDIS_TLS_SERVERNAME is set, but TLS is off: set REDIS_SSL to true or use a rediss:// URL',
    ],
    [
      // REDIS_SSL is set, but the URL's scheme decides: the message must not ask for REDIS_SSL.
      { REDIS_URL: 'redis://cache:6380', REDIS_SSL: 'true', REDIS_TLS_CA_FILE: 'PEM' },
      'nestjs-redis-metrics: REDIS_TLS_CA_FILE is set, but TLS is off: REDIS_URL starts with redis://; use rediss:// (with a URL, REDIS_SSL is not used)',
    ],
    [
      { REDIS_SSL: 'true', REDIS_TLS_CERT_FILE: 'PEM' },
      'nestjs-redis-metrics: REDIS_TLS_CERT_FILE needs REDIS_TLS_KEY_FILE too: a client certificate needs its key',
    ],
    [
      { REDIS_SSL: 'true', REDIS_TLS_KEY_FILE: 'PEM' },
      'nestjs-redis-metrics: REDIS_TLS_KEY_FILE needs REDIS_TLS_CERT_FILE too: the key of which certificate?',
    ],
  ])('rejects %j (PEM: a readable PEM file)', (given, message) => {
    const env = Object.fromEntries(
      Object.entries(given).map(([name, value]) => [name, value === 'PEM' ? pem : value]),
    );
    expect(errorOf(env).message).toBe(message);
  });

  it('names a file that is not PEM by its path, never by its content', () => {
    const error = errorOf({
      REDIS_SSL: 'true',
      REDIS_TLS_KEY_FILE: notPem,
      REDIS_TLS_CERT_FILE: pem,
    });
    expect(error.message).toBe(
      `nestjs-redis-metrics: REDIS_TLS_KEY_FILE is not a PEM file (no "-----BEGIN" line): ${notPem}`,
    );
    expect(error.setting).toBe('REDIS_TLS_KEY_FILE');
    expect(`${error.message} ${error.stack}`).not.toContain(SECRET);
  });

  it.each([
    [
      'PKCS#8',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n',
    ],
    [
      'traditional',
      '-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nMIIB\n-----END EC PRIVATE KEY-----\n',
    ],
  ])(
    'stops at start-up on a %s key encrypted with a passphrase, which the module cannot take',
    (_, text) => {
      // Without this, every TLS connection failed with Node's "bad decrypt" and the client closed.
      const encrypted = join(dir, 'encrypted.key');
      writeFileSync(encrypted, text);
      const error = errorOf({
        REDIS_SSL: 'true',
        REDIS_TLS_KEY_FILE: encrypted,
        REDIS_TLS_CERT_FILE: pem,
      });
      expect(error.message).toBe(
        `nestjs-redis-metrics: REDIS_TLS_KEY_FILE holds a private key encrypted with a passphrase, which the module cannot take: ${encrypted} (write it out unencrypted, e.g. with openssl pkey, readable by the app only)`,
      );
      expect(error.setting).toBe('REDIS_TLS_KEY_FILE');
    },
  );

  it("stops at start-up on a key that is not the client certificate's, naming the files, not their content", async () => {
    // Without this, every TLS connection failed with Node's "key values mismatch", naming no setting,
    // and ioredis closed the client for good: the app counted in memory until it was restarted.
    const certificates = await makeTestCertificates();
    try {
      const error = errorOf({
        REDIS_SSL: 'true',
        REDIS_TLS_CERT_FILE: certificates.clientCertFile,
        REDIS_TLS_KEY_FILE: certificates.serverKeyFile,
      });
      expect(error.message).toBe(
        `nestjs-redis-metrics: REDIS_TLS_KEY_FILE is not the key of the certificate in REDIS_TLS_CERT_FILE: ${certificates.serverKeyFile} (give the key file made with ${certificates.clientCertFile})`,
      );
      expect(error.setting).toBe('REDIS_TLS_KEY_FILE');
      const key = readFileSync(certificates.serverKeyFile, 'utf8').split('\n')[1]!;
      expect(`${error.message} ${error.stack}`).not.toContain(key);
      expect(
        readRedisMetricsOptionsFromEnv({
          REDIS_SSL: 'true',
          REDIS_TLS_CERT_FILE: certificates.clientCertFile,
          REDIS_TLS_KEY_FILE: certificates.clientKeyFile,
        }).tlsKeyFile,
      ).toBe(certificates.clientKeyFile);
    } finally {
      await certificates.remove();
    }
  });

  it('names the option, not a variable, for options given in code', () => {
    expect(() => resolveRedisMetricsOptions({ tlsCaFile: pem })).toThrow(
      'nestjs-redis-metrics: option "tlsCaFile" is set, but TLS is off: set option "ssl" to true or use a rediss:// URL',
    );
    expect(() =>
      resolveRedisMetricsOptions({ url: 'redis://cache:6380', ssl: true, tlsServername: 'cache' }),
    ).toThrow(
      'nestjs-redis-metrics: option "tlsServername" is set, but TLS is off: option "url" starts with redis://; use rediss:// (with a URL, option "ssl" is not used)',
    );
  });
});

describe('Sentinel options', () => {
  it('reads the sentinels, the master name and the sentinel password from the environment', () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_SENTINELS: 'sentinel-1:26380, 10.0.0.7 ,[fd00::7]:26381',
      REDIS_SENTINEL_MASTER: 'metrics',
      REDIS_SENTINEL_PASSWORD: SECRET,
      REDIS_PASSWORD: SECRET,
    });
    expect(options).toMatchObject({
      sentinels: [
        { host: 'sentinel-1', port: 26380 },
        { host: '10.0.0.7', port: 26379 },
        { host: 'fd00::7', port: 26381 },
      ],
      sentinelMaster: 'metrics',
      sentinelPassword: SECRET,
    });
    expect(JSON.stringify(redactRedisMetricsOptions(options))).not.toContain(SECRET);
    expect(redactRedisMetricsOptions(options)).toMatchObject({
      sentinelPassword: '***',
      password: '***',
    });
  });

  it('takes a list of addresses in code', () => {
    expect(
      resolveRedisMetricsOptions({
        sentinels: [
          { host: 'a', port: 26379 },
          { host: 'b', port: 26380 },
        ],
        sentinelMaster: 'metrics',
      }),
    ).toMatchObject({
      sentinels: [
        { host: 'a', port: 26379 },
        { host: 'b', port: 26380 },
      ],
      sentinelMaster: 'metrics',
    });
  });

  it.each([
    [
      { REDIS_SENTINELS: 'a:26379,b:abc', REDIS_SENTINEL_MASTER: 'm' },
      'nestjs-redis-metrics: REDIS_SENTINELS has a port that is not a whole number from 1 to 65535 (entry 2)',
    ],
    [
      { REDIS_SENTINELS: 'a:26379,,b', REDIS_SENTINEL_MASTER: 'm' },
      'nestjs-redis-metrics: REDIS_SENTINELS must list the sentinels as host:port,host:port; an entry has no host (entry 2)',
    ],
    [
      // A URL given where an address belongs: its password is not repeated.
      { REDIS_SENTINELS: `redis://:${SECRET}@sentinel-1:26379`, REDIS_SENTINEL_MASTER: 'm' },
      "nestjs-redis-metrics: REDIS_SENTINELS must list the sentinels as host:port,host:port, not URLs or credentials (give the sentinels' password as sentinelPassword, REDIS_SENTINEL_PASSWORD) (entry 1)",
    ],
    [
      // Credentials before a host, which would parse as a host name holding them.
      { REDIS_SENTINELS: `a:26379,${SECRET}@sentinel-1:26379`, REDIS_SENTINEL_MASTER: 'm' },
      "nestjs-redis-metrics: REDIS_SENTINELS must list the sentinels as host:port,host:port, not URLs or credentials (give the sentinels' password as sentinelPassword, REDIS_SENTINEL_PASSWORD) (entry 2)",
    ],
    [
      { REDIS_SENTINELS: 'a:26379' },
      'nestjs-redis-metrics: REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name of the master the sentinels monitor',
    ],
    [
      { REDIS_SENTINEL_MASTER: 'm' },
      'nestjs-redis-metrics: REDIS_SENTINEL_MASTER needs REDIS_SENTINELS, the addresses of the sentinels',
    ],
    [
      { REDIS_SENTINEL_PASSWORD: SECRET },
      'nestjs-redis-metrics: REDIS_SENTINEL_PASSWORD needs REDIS_SENTINELS, the addresses of the sentinels',
    ],
    [
      {
        REDIS_SENTINELS: 'a:26379',
        REDIS_SENTINEL_MASTER: 'm',
        PROMETHEUS_REDIS_URL: `redis://:${SECRET}@cache:6379`,
      },
      'nestjs-redis-metrics: REDIS_SENTINELS cannot be used with PROMETHEUS_REDIS_URL: the sentinels name the master (give its password, db and TLS settings on their own)',
    ],
  ])('rejects %j', (env, message) => {
    const error = errorOf(env);
    expect(error.message).toBe(message);
    expect(`${error.message} ${error.stack}`).not.toContain(SECRET);
  });

  it('names the option for a bad address given in code', () => {
    expect(() =>
      resolveRedisMetricsOptions({
        sentinels: [{ host: '', port: 26379 }],
        sentinelMaster: 'm',
      }),
    ).toThrow(
      'nestjs-redis-metrics: option "sentinels" must be a list of { host, port }; an entry has no host (entry 1)',
    );
  });
});
