import 'reflect-metadata';

import { jest } from '@jest/globals';
import { Logger, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';

import { redisMetricsConfig } from '../../src/config.js';
import {
  RedisMetricsConfigError,
  RedisMetricsModule,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { testRedisUrl, uniquePrefix } from '../harness/test-redis.js';

const SECRET = 'hunter2-secret';

/** Compiles an app that reads the module's options through @nestjs/config from the given env. */
async function compileWithEnv(env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    @Module({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true }),
        RedisMetricsModule.forRootAsync(redisMetricsConfig.asProvider()),
      ],
    })
    class AppModule {}
    return await Test.createTestingModule({ imports: [AppModule] }).compile();
  } finally {
    process.env = saved;
  }
}

/** Whether a line is the start-up line of a manager whose Redis storage is off. */
const storageOffLine = (line: string) => line.startsWith('Redis storage is disabled');

/**
 * Starts an app with `options`, checks that its storage stays off, closes it, and returns the log and
 * warn lines it wrote.
 */
async function startWithStorageOff(
  options: RedisMetricsModuleOptions,
): Promise<{ logged: string[]; warned: string[] }> {
  const logged: string[] = [];
  const warned: string[] = [];
  const logger = {
    log: (message: unknown) => void logged.push(String(message)),
    error: () => undefined,
    warn: (message: unknown) => void warned.push(String(message)),
    debug: () => undefined,
    verbose: () => undefined,
  };
  @Module({ imports: [RedisMetricsModule.forRoot(options)] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger });
  await app.init();
  try {
    expect(await app.get(RedisStorageManager).setup()).toBe(false);
  } finally {
    await app.close();
  }
  return { logged, warned };
}

describe('configuration through @nestjs/config', () => {
  it('reads the seed variables into the module', async () => {
    const prefix = uniquePrefix('config:env');
    const moduleRef = await compileWithEnv({
      REDIS_ENABLED: 'true',
      PROMETHEUS_REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      REDIS_TTL_SECONDS: '60',
    });
    const manager = moduleRef.get(RedisStorageManager);
    expect(manager.options).toMatchObject({ enabled: true, keyPrefix: prefix, ttlSeconds: 60 });
    await moduleRef.close();
  });

  it('says at start-up that a URL leaves REDIS_PASSWORD alone, and connects without it', async () => {
    // Platforms set REDIS_PASSWORD beside a URL that holds none: the line said nothing of it.
    const lines: string[] = [];
    const log = jest
      .spyOn(Logger.prototype, 'log')
      .mockImplementation((message: unknown) => void lines.push(String(message)));
    const prefix = uniquePrefix('config:left-alone');
    const moduleRef = await compileWithEnv({
      PROMETHEUS_REDIS_URL: testRedisUrl(),
      REDIS_URL: testRedisUrl(),
      REDIS_PASSWORD: SECRET,
      REDIS_KEY_PREFIX: prefix,
    }).finally(() => log.mockRestore());
    try {
      expect(lines.filter((line) => line.startsWith('Redis metrics storage'))).toEqual([
        'Redis metrics storage on: the URL of PROMETHEUS_REDIS_URL (REDIS_URL and REDIS_PASSWORD are set too and left alone: the URL names the server, database, credentials and TLS).',
      ]);
      // The test server has no password: an AUTH with one would fail the first write.
      expect(await moduleRef.get(RedisStorageManager).setup()).toBe(true);
    } finally {
      await moduleRef.close();
    }
  });

  it.each([
    [{ REDIS_PORT: 'abc' }, 'nestjs-redis-metrics: REDIS_PORT must be a whole number; got "abc"'],
    [
      { REDIS_TTL_SECONDS: '-1' },
      'nestjs-redis-metrics: REDIS_TTL_SECONDS must be at least 1; got -1',
    ],
    [
      { PROMETHEUS_REDIS_URL: `redis//:${SECRET}@nowhere` },
      'nestjs-redis-metrics: PROMETHEUS_REDIS_URL must start with redis:// or rediss:// (expected redis://[user:password@]host[:port][/db])',
    ],
    // An address written as a host and port, as in a Compose file: the URL parser read `localhost:` as
    // the scheme ('got "localhost://"') and `redis:6379` as a URL without a host ("has no host").
    [
      { REDIS_URL: 'localhost:6379' },
      'nestjs-redis-metrics: REDIS_URL must start with redis:// or rediss://: write "localhost:6379" as redis://localhost:6379',
    ],
    [
      { REDIS_URL: 'redis:6379' },
      'nestjs-redis-metrics: REDIS_URL must start with redis:// or rediss://: write "redis:6379" as redis://redis:6379',
    ],
    // A generated password with a "/" or "?" unencoded: the parser took it for the end of the host.
    [
      { REDIS_URL: `redis://:a/${SECRET}@127.0.0.1:6379` },
      'nestjs-redis-metrics: REDIS_URL is not a valid URL (expected redis://[user:password@]host[:port][/db]); in a password, write "/" as %2F, "?" as %3F, "#" as %23 and "%" as %25',
    ],
    [
      { REDIS_URL: `metrics:${SECRET}@redis:6379` },
      'nestjs-redis-metrics: REDIS_URL must start with redis:// or rediss:// (expected redis://[user:password@]host[:port][/db])',
    ],
  ])('stops start-up on %j with an error naming it, without the password', async (env, message) => {
    // Everything printed while the app fails to start, to check that no password is in it.
    const printed: string[] = [];
    const capture = (chunk: unknown) => (printed.push(String(chunk)), true);
    const spies = [
      jest.spyOn(process.stdout, 'write').mockImplementation(capture),
      jest.spyOn(process.stderr, 'write').mockImplementation(capture),
      jest
        .spyOn(console, 'error')
        .mockImplementation((...args) => void printed.push(args.join(' '))),
    ];
    const failure = await compileWithEnv({ ...env, REDIS_PASSWORD: SECRET }).then(
      () => undefined,
      (error: unknown) => error,
    );
    spies.forEach((spy) => spy.mockRestore());

    expect(failure).toBeInstanceOf(RedisMetricsConfigError);
    expect((failure as Error).message).toBe(message);
    expect(printed.join('') + String((failure as Error).stack)).not.toContain(SECRET);
  });

  it('stops start-up on a misspelt name in a nested option from an untyped factory', async () => {
    // As a factory reading a JSON or YAML config would return it.
    const fromConfigFile: unknown = JSON.parse(
      '{ "defaultMetrics": { "enabled": true, "config": { "prefx": "shop_" } } }',
    );
    @Module({
      imports: [
        RedisMetricsModule.forRootAsync({
          useFactory: () => ({ url: testRedisUrl(), ...(fromConfigFile as object) }),
        }),
      ],
    })
    class AppModule {}
    await expect(Test.createTestingModule({ imports: [AppModule] }).compile()).rejects.toThrow(
      new RedisMetricsConfigError(
        'option "defaultMetrics.config.prefx"',
        'is not a setting of prom-client\'s collectDefaultMetrics; did you mean "prefix"?',
      ),
    );
  });

  it('says which connection options it leaves unused when storage is off for want of enabled: true', async () => {
    const { port } = new URL(testRedisUrl());
    // Whether storage is on stays as documented: a host alone does not turn it on.
    const { logged, warned } = await startWithStorageOff({
      host: '127.0.0.1',
      port: Number(port),
      db: 3,
      password: SECRET,
      registry: new Registry(),
      defaultMetrics: false,
      httpMetrics: false,
    });
    // A warning, as options given and ignored are a mistake: logs that show warnings only show it.
    expect(warned.filter(storageOffLine)).toEqual([
      'Redis storage is disabled: /metrics serves this process only. The options host, port, db and password were given and are ignored: set enabled: true to store metrics in that Redis (a url, a client or sentinels turn storage on by themselves).',
    ]);
    expect(logged.filter(storageOffLine)).toEqual([]);
    expect([...logged, ...warned].join('\n')).not.toContain(SECRET);
  });

  it('warns when a url given from an unset environment variable leaves storage off, and not with enabled: false', async () => {
    const startOff = async (options: RedisMetricsModuleOptions) => {
      const { logged, warned } = await startWithStorageOff(options);
      return { logged: logged.filter(storageOffLine), warned: warned.filter(storageOffLine) };
    };
    const common = { registry: new Registry(), defaultMetrics: false, httpMetrics: false } as const;
    // As `url: process.env.REDIS_URL` gives it in a deployment without the variable.
    const unsetVariable: string | undefined = undefined;
    expect(await startOff({ ...common, url: unsetVariable })).toEqual({
      logged: [],
      warned: [
        'Redis storage is disabled: /metrics serves this process only. The option url was given as undefined (an environment variable that is not set?): give a Redis URL, or enabled: false to run without Redis on purpose.',
      ],
    });
    expect(await startOff({ ...common, url: unsetVariable, sentinels: undefined })).toEqual({
      logged: [],
      warned: [
        'Redis storage is disabled: /metrics serves this process only. The options url and sentinels were given as undefined (an environment variable that is not set?): give a Redis URL, or enabled: false to run without Redis on purpose.',
      ],
    });
    expect(await startOff({ ...common, url: unsetVariable, enabled: false })).toEqual({
      logged: ['Redis storage is disabled: /metrics serves this process only.'],
      warned: [],
    });
    expect(await startOff({ ...common })).toEqual({
      logged: ['Redis storage is disabled: /metrics serves this process only.'],
      warned: [],
    });
  });

  it('warns at start-up of connection options given beside a url that the URL overrides', async () => {
    const warned: string[] = [];
    const logger = {
      log: () => undefined,
      error: () => undefined,
      warn: (message: unknown) => void warned.push(String(message)),
      debug: () => undefined,
      verbose: () => undefined,
    };
    const url = new URL(testRedisUrl());
    const start = async (options: RedisMetricsModuleOptions) => {
      @Module({
        imports: [
          RedisMetricsModule.forRoot({
            ...options,
            keyPrefix: uniquePrefix('config:beside-url'),
            registry: new Registry(),
            defaultMetrics: false,
            httpMetrics: false,
          }),
        ],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      const app = moduleRef.createNestApplication({ logger });
      await app.init();
      try {
        return await app.get(RedisStorageManager).setup();
      } finally {
        await app.close();
      }
    };
    // A password beside a URL that holds none was dropped without a word: the server's NOAUTH said it.
    // The test server has no password: the first write succeeds only if none is sent.
    expect(await start({ url: url.href, password: SECRET, db: 3 })).toBe(true);
    expect(warned).toEqual([
      "The options db and password were given beside url and are ignored: the client connects with the URL's host, port, database, credentials and TLS. Put them in the URL (redis://user:password@host:6379/0, or rediss://), or give them without url.",
    ]);
    expect(warned.join('\n')).not.toContain(SECRET);
    // The URL's own settings given again (options read from the environment and spread) are not named.
    warned.length = 0;
    expect(
      await start({ url: url.href, host: url.hostname, port: Number(url.port), db: 0, ssl: false }),
    ).toBe(true);
    expect(warned).toEqual([]);
  });

  it('takes a registry and options in code through forRoot', async () => {
    const registry = new Registry();
    @Module({ imports: [RedisMetricsModule.forRoot({ registry, keyPrefix: 'code-only' })] })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const manager = moduleRef.get(RedisStorageManager);
    expect(manager.registry).toBe(registry);
    expect(manager.options).toMatchObject({ enabled: false, keyPrefix: 'code-only' });
    await moduleRef.close();
  });
});
