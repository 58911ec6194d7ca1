import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { Counter, Registry } from 'prom-client';

import {
  describeRedisError,
  readRedisMetricsOptionsFromEnv,
  RedisAuthenticationError,
  RedisConnectionError,
  RedisMultiProcessCollector,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { SCRIPT_COMMANDS } from '../../src/storage/lua-scripts.js';
import { startRedisWithAuth, type AuthRedisServer } from '../harness/redis-auth-server.mjs';
import { startRedisSentinel, type RedisSentinelHandle } from '../harness/redis-sentinel.mjs';
import { makeTempDir, removeTempDir, startRedisProcess } from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { startTlsRedis, type TlsRedisServer } from '../harness/redis-tls-server.mjs';
import { makeTestCertificates, type TestCertificates } from '../harness/tls-certificates.mjs';
import { uniquePrefix } from '../harness/test-redis.js';

const SECRET = 'url-pa55word';

// Every way of misconfiguring the connection that used to read "Stream isn't writeable and
// enableOfflineQueue options is false" must now say what is wrong, where, and never the password.

let certificates: TestCertificates;
let tlsServer: TlsRedisServer;
let mismatchedServer: TlsRedisServer;
let authServer: AuthRedisServer;

beforeAll(async () => {
  certificates = await makeTestCertificates();
  [tlsServer, mismatchedServer, authServer] = await Promise.all([
    startTlsRedis({ certificates }),
    startTlsRedis({ certificates, certificate: 'mismatched' }),
    startRedisWithAuth(),
  ]);
});

afterAll(async () => {
  await Promise.all([tlsServer?.stop(), mismatchedServer?.stop(), authServer?.stop()]);
  await certificates?.remove();
});

/** What the module reports when it starts with these options: the flusher's log and /health. */
async function reportedFailure(options: RedisMetricsModuleOptions) {
  const logged: string[] = [];
  const logger = {
    log: (message: string) => void logged.push(message),
    warn: (message: string) => void logged.push(message),
    error: (message: string) => void logged.push(message),
  };
  const manager = new RedisStorageManager(
    {
      enabled: true,
      keyPrefix: uniquePrefix('errors'),
      registry: new Registry(),
      defaultMetrics: false,
      httpMetrics: false,
      ...options,
    },
    logger,
  );
  const client = manager.getClient() as Redis;
  // What a user's listener gets: printed whole (with its cause) by console.error or a JSON logger.
  const events: unknown[] = [];
  client.on('error', (error: unknown) => void events.push(error));
  const connected = await manager.setup();
  const commandError = await client.ping().then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  const health = await manager.health();
  await manager.teardown();
  return { connected, logged, health, commandError, client, events };
}

/**
 * The URL of a new ACL user of the auth server (password `<name>-pw`) with every command but
 * `refused`, on every key and channel.
 */
async function userRefusing(name: string, ...refused: string[]): Promise<string> {
  const admin = new Redis({ port: authServer.port, password: authServer.password });
  try {
    const rules = ['on', `>${name}-pw`, '~*', '&*', '+@all', ...refused.map((c) => `-${c}`)];
    await admin.call('ACL', 'SETUSER', name, ...rules);
  } finally {
    admin.disconnect();
  }
  return `redis://${name}:${name}-pw@127.0.0.1:${authServer.port}`;
}

/** A manager on `url` without fresh scrapes, whose warnings and errors are kept in order. */
function managerKeepingLogs(url: string, keyPrefix: string, registry = new Registry()) {
  const logged: string[] = [];
  const manager = new RedisStorageManager(
    { url, keyPrefix, registry, defaultMetrics: false, httpMetrics: false, freshScrapeWaitMs: 0 },
    {
      log: () => undefined,
      warn: (message: string) => void logged.push(message),
      error: (message: string) => void logged.push(message),
    },
  );
  return { manager, logged };
}

/** Checks that the failure is reported with exactly this message everywhere, and no secret. */
function expectReported(
  failure: Awaited<ReturnType<typeof reportedFailure>>,
  message: string,
  secrets: string[] = [],
) {
  expect(failure.connected).toBe(false);
  expect(failure.health.status).toBe('degraded');
  expect(failure.health.error).toBe(message);
  expect(failure.commandError?.message).toBe(message);
  expect(describeRedisError(failure.commandError, failure.client)).toBe(message);
  // The flusher's warning (its wording is the flusher's) ends with the cause, once.
  const warnings = failure.logged.filter((line) => line.startsWith('Flushing metrics to '));
  expect(warnings).toHaveLength(1);
  expect(warnings[0].endsWith(`: ${message}`)).toBe(true);
  const everything =
    JSON.stringify(failure.logged) +
    JSON.stringify(failure.health) +
    message +
    inspect([failure.commandError, ...failure.events], { depth: 10 });
  for (const secret of secrets) expect(everything).not.toContain(secret);
}

describe('a connection that cannot work names its cause', () => {
  it('a wrong password: WRONGPASS for the default user, at host:port', async () => {
    const failure = await reportedFailure({
      host: '127.0.0.1',
      port: authServer.port,
      password: 'not-the-password',
    });
    expectReported(
      failure,
      `WRONGPASS: wrong password or user "default" at 127.0.0.1:${authServer.port} (check the username / password options)`,
      ['not-the-password', authServer.password],
    );
    expect(failure.commandError).toBeInstanceOf(RedisAuthenticationError);
  });

  it('a wrong ACL user in the URL: WRONGPASS naming the user, without the URL', async () => {
    const failure = await reportedFailure({
      url: `redis://nobody:${authServer.userPassword}@127.0.0.1:${authServer.port}`,
    });
    expectReported(
      failure,
      `WRONGPASS: wrong password or user "nobody" at 127.0.0.1:${authServer.port} (check the user and password in the url option)`,
      [authServer.userPassword, 'redis://'],
    );
  });

  it("a wrong password in the URL's query: WRONGPASS naming the query's user, and the password nowhere", async () => {
    const failure = await reportedFailure({
      url: `redis://127.0.0.1:${authServer.port}?username=${authServer.username}&password=${SECRET}`,
    });
    expectReported(
      failure,
      `WRONGPASS: wrong password or user "${authServer.username}" at 127.0.0.1:${authServer.port} (check the user and password in the url option)`,
      [SECRET, authServer.userPassword],
    );
    // The connection's HELLO failed: ioredis's error names the command, its password hidden.
    const refused = failure.events.find((error) => error instanceof RedisAuthenticationError);
    expect((refused as Error).cause).toMatchObject({
      command: { name: 'hello', args: ['3', 'AUTH', authServer.username, '***'] },
    });
  });

  it('no password where one is required: NOAUTH', async () => {
    const failure = await reportedFailure({ host: '127.0.0.1', port: authServer.port });
    expectReported(
      failure,
      `NOAUTH: 127.0.0.1:${authServer.port} requires a password (set the password option)`,
    );
  });

  it('a server certificate signed by a CA the client was not given: not trusted', async () => {
    const failure = await reportedFailure(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        PROMETHEUS_REDIS_URL: tlsServer.url,
        REDIS_TLS_CA_FILE: certificates.untrustedCaFile,
      }),
    );
    expectReported(
      failure,
      `TLS: certificate not trusted at 127.0.0.1:${tlsServer.port} (SELF_SIGNED_CERT_IN_CHAIN; REDIS_TLS_CA_FILE does not hold the CA that signed it)`,
    );
    expect(failure.commandError).toBeInstanceOf(RedisConnectionError);
  });

  it('a TLS server whose CA the client was not given at all: set the CA file', async () => {
    const failure = await reportedFailure(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        PROMETHEUS_REDIS_URL: tlsServer.url,
      }),
    );
    expectReported(
      failure,
      `TLS: certificate not trusted at 127.0.0.1:${tlsServer.port} (SELF_SIGNED_CERT_IN_CHAIN; set REDIS_TLS_CA_FILE to the CA that signed it)`,
    );
    expect(failure.commandError).toBeInstanceOf(RedisConnectionError);
  });

  it('a server certificate made out to another name: the name does not match', async () => {
    const failure = await reportedFailure({
      url: mismatchedServer.url,
      tlsCaFile: certificates.caFile,
    });
    expectReported(
      failure,
      `TLS: certificate name does not match "127.0.0.1" at 127.0.0.1:${mismatchedServer.port}; it holds DNS:wrong.example (set the tlsServername option to a name it holds, or connect by that name)`,
    );
  });

  it('plain redis:// against a TLS port: the server hangs up, is it a TLS port?', async () => {
    const failure = await reportedFailure({ url: `redis://127.0.0.1:${tlsServer.port}` });
    expectReported(
      failure,
      `server closed the connection before answering at 127.0.0.1:${tlsServer.port} (is it a TLS port? use rediss:// in the url option; or has it reached its maxclients?)`,
    );
  });

  it('a database the server lacks: the client closes at once, and nothing is written to database 0', async () => {
    const keyPrefix = uniquePrefix('no-such-db');
    const failure = await reportedFailure({
      host: '127.0.0.1',
      port: authServer.port,
      password: authServer.password,
      db: 99,
      keyPrefix,
    });
    const admin = new Redis({ port: authServer.port, password: authServer.password });

    expectReported(
      failure,
      `Redis at 127.0.0.1:${authServer.port} has no database 99 (ERR DB index is out of range): the ` +
        'client was closed, so that nothing is written to database 0; give a database number the ' +
        'server has (below its "databases" setting, 16 by default)',
      [authServer.password],
    );
    expect(failure.client.status).toBe('end');
    // No promise of a retry that cannot succeed.
    expect(failure.logged).toContain(
      `Redis under prefix "${keyPrefix}" cannot be used: counting in memory only; its client has closed and does not reconnect.`,
    );
    expect(await admin.keys(`*${keyPrefix}*`)).toEqual([]);
    admin.disconnect();
  });

  it('a user whose ACL rules forbid scripts: NOPERM naming the user, and Redis not called unreachable', async () => {
    const admin = new Redis({ port: authServer.port, password: authServer.password });
    await admin.call(
      'ACL',
      'SETUSER',
      'scriptless',
      'on',
      '>scriptless-pw',
      '~*',
      '&*',
      '+@all',
      '-@scripting',
    );
    admin.disconnect();
    const keyPrefix = uniquePrefix('scriptless');
    const failure = await reportedFailure({
      url: `redis://scriptless:scriptless-pw@127.0.0.1:${authServer.port}`,
      keyPrefix,
    });
    expect(failure.connected).toBe(false);
    expect(failure.health.status).toBe('degraded');
    // ioredis sends EVAL or EVALSHA first depending on what it believes the server has loaded.
    expect(failure.health.error).toMatch(
      new RegExp(
        `^NOPERM: user "scriptless" may not do this at 127\\.0\\.0\\.1:${authServer.port}: NOPERM this user has no permissions to run the 'eval(sha)?' command \\(check the user's ACL rules\\)$`,
      ),
    );
    // The server answered: the start-up line must not send anyone looking for a network problem.
    expect(failure.logged).toContain(
      `Redis under prefix "${keyPrefix}" answers but refused the first write: counting in memory, retrying in the background.`,
    );
    expect(JSON.stringify(failure.logged) + JSON.stringify(failure.health)).not.toContain(
      'scriptless-pw',
    );
  });

  it("a user whose ACL rules leave out the prefix's keys: NOPERM naming the keys it needs", async () => {
    const admin = new Redis({ port: authServer.port, password: authServer.password });
    await admin.call(
      'ACL',
      'SETUSER',
      'otherkeys',
      'on',
      '>otherkeys-pw',
      '~cache:*',
      '&*',
      '+@all',
    );
    admin.disconnect();
    const keyPrefix = uniquePrefix('other-keys');
    const failure = await reportedFailure({
      url: `redis://otherkeys:otherkeys-pw@127.0.0.1:${authServer.port}`,
      keyPrefix,
    });
    expect(failure.connected).toBe(false);
    // Redis names no key (7.0 and 7.2 say it in other words): the hint said only to check the rules.
    const keys = `{${keyPrefix}}:*`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(failure.health.error).toMatch(
      new RegExp(
        `^NOPERM: user "otherkeys" may not do this at 127\\.0\\.0\\.1:${authServer.port}: ` +
          `NOPERM (this user has no permissions to access one of the keys used as arguments|No permissions to access a key) ` +
          `\\(check the user's ACL rules: it needs the keys ${keys} \\(ACL ~${keys}\\)\\)$`,
      ),
    );
    expect(failure.logged.filter((line) => line.startsWith('Flushing metrics to '))).toEqual([
      `Flushing metrics to Redis under prefix "${keyPrefix}" failed; counting goes on in memory and is retried every 250 ms: ${failure.health.error}`,
    ]);
    expect(JSON.stringify(failure.logged) + JSON.stringify(failure.health)).not.toContain(
      'otherkeys-pw',
    );
  });

  it("a user whose ACL rules refuse a command the module's scripts run: NOPERM naming the user and every such command", async () => {
    // Redis 7.0 names neither the command nor the ACL ("The user executing the script can't run this
    // command or subcommand script: <sha>, on @user_script:2."): that was all the health route said.
    const url = await userRefusing('notime', 'time');
    const keyPrefix = uniquePrefix('no-time');
    const failure = await reportedFailure({ url, keyPrefix });
    expect(failure.connected).toBe(false);
    expect(failure.health.error).toBe(
      `NOPERM: user "notime" may not run a command of the module's Lua scripts at 127.0.0.1:${authServer.port}: ` +
        `ERR The user executing the script can't run this command or subcommand (check the user's ACL rules: ` +
        `the scripts run +time +type +del +hset +hsetnx +hmget +hget +hdel +hgetall +zadd +zrem +zrange ` +
        `+zrangebyscore +zcount +zscore +info)`,
    );
    expect(failure.logged.filter((line) => line.startsWith('Flushing metrics to '))).toEqual([
      `Flushing metrics to Redis under prefix "${keyPrefix}" failed; counting goes on in memory and is retried every 250 ms: ${failure.health.error}`,
    ]);
    expect(JSON.stringify(failure.logged) + JSON.stringify(failure.health)).not.toContain(
      'notime-pw',
    );
  });

  it("a user whose ACL rules refuse HGETALL: the scrape's 503 names the refusal, not a loss or a key of the wrong type", async () => {
    // The read head ran its reads with pcall and took any error for a key of another type: the
    // metadata read as empty, and the 503 said the totals no longer held this process's last write.
    const keyPrefix = uniquePrefix('no-hgetall');
    const { manager, logged } = managerKeepingLogs(
      await userRefusing('nohgetall', 'hgetall'),
      keyPrefix,
    );
    try {
      expect(await manager.setup()).toBe(true);
      const scrape = await manager.metrics();
      const reason =
        `the metrics of every process could not be read from Redis under prefix "${keyPrefix}": ` +
        `NOPERM: user "nohgetall" may not run a command of the module's Lua scripts at 127.0.0.1:${authServer.port}: ` +
        `ERR The user executing the script can't run this command or subcommand (check the user's ACL rules: ` +
        `the scripts run ${SCRIPT_COMMANDS.map((name) => `+${name}`).join(' ')})`;
      expect(scrape.status).toBe(503);
      expect(scrape.body).toBe(`${reason}\n`);
      expect(logged).toEqual([`Scrapes answer 503 while ${reason}`]);
      expect(JSON.stringify(logged) + scrape.body).not.toContain('nohgetall-pw');
    } finally {
      await manager.teardown();
    }
  });

  it('a user whose ACL rules refuse EXISTS: a scrape of a hash read in several calls is served, its check being a script', async () => {
    // The check after a read in several HSCAN calls was a pipeline of EXISTS, whose refusal failed the
    // scrape. It is one script now (a pipeline is redirected whole during a Cluster slot migration),
    // which runs only commands of the scripts' list.
    const url = await userRefusing('noexists', 'exists');
    const keyPrefix = uniquePrefix('no-exists');
    const registry = new Registry();
    // More series than one HSCAN call reads (HSCAN_COUNT).
    const bulk = new Counter({
      name: 'bulk_total',
      help: 'Many',
      labelNames: ['n'],
      registers: [registry],
    });
    for (let n = 0; n < 2500; n += 1) bulk.inc({ n });
    const { manager, logged } = managerKeepingLogs(url, keyPrefix, registry);
    try {
      expect(await manager.setup()).toBe(true);
      const scrape = await manager.metrics();
      expect(scrape.status).toBe(200);
      expect(scrape.body.split('\n').filter((line) => line.startsWith('bulk_total{'))).toHaveLength(
        2500,
      );
      expect(logged).toEqual([]);
    } finally {
      await manager.teardown();
    }
  });

  it('a user whose ACL rules refuse DEL: the end at shutdown fails, and the log says why, once', async () => {
    const keyPrefix = uniquePrefix('no-del');
    const { manager, logged } = managerKeepingLogs(await userRefusing('nodel', 'del'), keyPrefix);
    const admin = new Redis({ port: authServer.port, password: authServer.password });
    try {
      expect(await manager.setup()).toBe(true);
      const id = (await admin.zrange(`{${keyPrefix}}:processes`, '0', '-1'))[0];
      await manager.teardown();
      expect(logged).toEqual([
        `Ending this process (${id}) in Redis under prefix "${keyPrefix}" at shutdown failed (` +
          `NOPERM: user "nodel" may not run a command of the module's Lua scripts at 127.0.0.1:${authServer.port}: ` +
          `ERR The user executing the script can't run this command or subcommand (check the user's ACL rules: ` +
          `the scripts run ${SCRIPT_COMMANDS.map((name) => `+${name}`).join(' ')})); ` +
          `its counts are in the totals, and its gauges stay until a live process ends it (ttlSeconds).`,
      ]);
      expect(JSON.stringify(logged)).not.toContain('nodel-pw');
    } finally {
      await manager.teardown();
      admin.disconnect();
    }
  });

  it('a user whose ACL rules refuse PUBLISH: fresh-scrape requests and answers fail, and the log says why, once each', async () => {
    await userRefusing('nopublish', 'publish');
    const keyPrefix = uniquePrefix('no-publish');
    const logs: string[][] = [[], []];
    // The first process may not publish; the second, a user with every command, asks it to flush.
    const managers = [
      'nopublish:nopublish-pw',
      `${authServer.username}:${authServer.userPassword}`,
    ].map(
      (user, i) =>
        new RedisStorageManager(
          {
            url: `redis://${user}@127.0.0.1:${authServer.port}`,
            keyPrefix,
            registry: new Registry(),
            defaultMetrics: false,
            httpMetrics: false,
            freshScrapeWaitMs: 300,
          },
          {
            log: () => undefined,
            warn: (message: string) => void logs[i].push(message),
            error: (message: string) => void logs[i].push(message),
          },
        ),
    );
    try {
      for (const manager of managers) expect(await manager.setup()).toBe(true);
      const refused = `(NOPERM: user "nopublish" may not do this at 127.0.0.1:${authServer.port}: NOPERM this user has no permissions to run the 'publish' command (check the user's ACL rules))`;
      for (let i = 0; i < 2; i += 1) {
        expect((await managers[0].metrics()).status).toBe(200);
        expect((await managers[1].metrics()).status).toBe(200);
      }
      expect(logs[0]).toEqual([
        `Fresh scrapes cannot ask the other processes to flush: PUBLISH on {${keyPrefix}}:flush-requests failed ${refused}; scrapes show what each process flushed last.`,
        `This process cannot answer fresh-scrape requests: PUBLISH on {${keyPrefix}}:flushed failed ${refused}; a fresh scrape waits for it until its bound.`,
      ]);
      expect(logs[1]).toEqual([]);
      expect(JSON.stringify(logs)).not.toContain('nopublish-pw');
    } finally {
      await Promise.all(managers.map((manager) => manager.teardown()));
    }
  });

  it("lists every command of the module's scripts in that hint", () => {
    // The commands the Lua source calls by name: redis.call / redis.pcall, and the first argument of its
    // helpers callMany and read.
    const source = readFileSync(
      new URL('../../src/storage/lua-scripts.ts', import.meta.url),
      'utf8',
    );
    const called = new Set(
      [...source.matchAll(/(?:redis\.p?call|callMany|read)\('(\w+)'/g)].map((match) =>
        match[1].toLowerCase(),
      ),
    );
    expect([...SCRIPT_COMMANDS].sort()).toEqual([...called].sort());
  });

  it('a server out of memory (maxmemory, noeviction): OOM at host:port, not the script line Redis names', async () => {
    const admin = new Redis({ port: authServer.port, password: authServer.password });
    // A write of the module's needs more than is left: the limit is what is used now.
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(used));
    try {
      const failure = await reportedFailure({
        url: `redis://:${authServer.password}@127.0.0.1:${authServer.port}`,
      });
      expect(failure.connected).toBe(false);
      expect(failure.health.error).toBe(
        `OOM: 127.0.0.1:${authServer.port} has reached its maxmemory and refuses writes (raise maxmemory or free memory there; counting goes on in memory)`,
      );
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
  });

  it('a user without pub/sub channels (Redis 7 gives a new ACL user none): fresh scrapes off, and said so', async () => {
    const admin = new Redis({ port: authServer.port, password: authServer.password });
    await admin.call('ACL', 'SETUSER', 'nochannels', 'on', '>nochannels-pw', '~*', '+@all');
    admin.disconnect();
    const keyPrefix = uniquePrefix('no-channels');
    const logged: string[] = [];
    const manager = new RedisStorageManager(
      {
        url: `redis://nochannels:nochannels-pw@127.0.0.1:${authServer.port}`,
        keyPrefix,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
      },
      {
        log: (message: string) => void logged.push(message),
        warn: (message: string) => void logged.push(message),
        error: (message: string) => void logged.push(message),
      },
    );
    try {
      // Its writes work; only the subscription is refused.
      expect(await manager.setup()).toBe(true);
      expect((await manager.health()).status).toBe('up');
      expect(logged).toContain(
        `Fresh scrapes are off in this process: it cannot subscribe to the flush requests on {${keyPrefix}}:* ` +
          `(NOPERM: user "nochannels" may not do this at 127.0.0.1:${authServer.port}: NOPERM this user has no ` +
          `permissions to access one of the channels used as arguments (check the user's ACL rules); the user ` +
          `needs the channels {${keyPrefix}}:* (ACL &{${keyPrefix}}:*)). Scrapes show what each process flushed last, up to 250 ms old.`,
      );
      expect((await manager.metrics()).status).toBe(200);
      expect(JSON.stringify(logged)).not.toContain('nochannels-pw');
    } finally {
      await manager.teardown();
    }
  });

  it('nothing listening: connection refused at host:port, naming the settings as they were given', async () => {
    const port = await freePort();
    const failure = await reportedFailure({ host: '127.0.0.1', port });
    expectReported(
      failure,
      `connection refused at 127.0.0.1:${port} (is Redis running there? check the host / port options)`,
    );
    // A URL in code: the url option, never the URL itself (it may hold a password).
    const fromUrl = await reportedFailure({ url: `redis://:${SECRET}@127.0.0.1:${port}/5` });
    expectReported(
      fromUrl,
      `connection refused at 127.0.0.1:${port} (is Redis running there? check the url option)`,
      [SECRET, 'redis://'],
    );
    // From the environment, spread with more options as an app does: the variables.
    const fromEnv = await reportedFailure(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        REDIS_HOST: '127.0.0.1',
        REDIS_PORT: String(port),
      }),
    );
    expectReported(
      fromEnv,
      `connection refused at 127.0.0.1:${port} (is Redis running there? check REDIS_HOST / REDIS_PORT)`,
    );
    const fromEnvUrl = await reportedFailure(
      readRedisMetricsOptionsFromEnv({ REDIS_URL: `redis://:${SECRET}@127.0.0.1:${port}/5` }),
    );
    expectReported(
      fromEnvUrl,
      `connection refused at 127.0.0.1:${port} (is Redis running there? check REDIS_URL)`,
      [SECRET, 'redis://'],
    );
  });

  it("a client of the user's: its failures name their cause in the log and the health route too", async () => {
    const port = await freePort();
    const client = new Redis({
      port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
    });
    try {
      const failure = await reportedFailure({ client });
      const message = `connection refused at 127.0.0.1:${port} (is Redis running there? check the client's host / port options)`;
      expect(failure.connected).toBe(false);
      expect(failure.health.error).toBe(message);
      // Once while it runs (not once per retry), and once more at its shutdown, saying what is lost.
      const naming = failure.logged.filter((line) => line.includes(message));
      expect(naming.map((line) => line.split(' under prefix ')[0])).toEqual([
        'Flushing metrics to Redis',
        'Gave up flushing metrics to Redis',
      ]);
    } finally {
      client.disconnect();
    }
  });
  it("a client of the user's refused by the server: the error a call rejects with holds no password", async () => {
    // ioredis' defaults: a command sent while connecting waits, and is rejected with the HELLO's error.
    const client = new Redis({
      port: authServer.port,
      host: '127.0.0.1',
      password: SECRET,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const manager = new RedisStorageManager(
      {
        client,
        keyPrefix: uniquePrefix('user-client'),
        registry: new Registry(),
        defaultMetrics: false,
      },
      { log: () => undefined, warn: () => undefined, error: () => undefined },
    );
    try {
      const error = await manager.markProcessDead({ pid: 1 }).then(
        () => undefined,
        (rejected: unknown) => rejected as Error,
      );
      expect(error).toBeInstanceOf(RedisAuthenticationError);
      expect(error?.message).toBe(
        `WRONGPASS: wrong password or user "default" at 127.0.0.1:${authServer.port} (check the client's username / password options)`,
      );
      expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    } finally {
      await manager.teardown();
      client.disconnect();
    }
  });

  it('a collector refused by the server, its client made from PROMETHEUS_REDIS_URL: the error a scrape rejects with holds no password', async () => {
    const before = process.env.PROMETHEUS_REDIS_URL;
    process.env.PROMETHEUS_REDIS_URL = `redis://:${SECRET}@127.0.0.1:${authServer.port}`;
    const collector = new RedisMultiProcessCollector({ keyPrefix: uniquePrefix('collector') });
    if (before === undefined) delete process.env.PROMETHEUS_REDIS_URL;
    else process.env.PROMETHEUS_REDIS_URL = before;
    // The failure is the scrape's rejection alone: ioredis prints nothing of its own.
    const printed: string[] = [];
    const consoleError = jest
      .spyOn(console, 'error')
      .mockImplementation((...args) => void printed.push(args.join(' ')));
    try {
      const error = await collector.metrics().then(
        () => undefined,
        (rejected: unknown) => rejected as Error & { command?: unknown },
      );
      consoleError.mockRestore();
      expect(printed).toEqual([]);
      // Explained as the module's own client explains it, naming where the password came from.
      expect(error).toBeInstanceOf(RedisAuthenticationError);
      expect(error?.message).toBe(
        `WRONGPASS: wrong password or user "default" at 127.0.0.1:${authServer.port} (check the user and password in PROMETHEUS_REDIS_URL)`,
      );
      expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    } finally {
      consoleError.mockRestore();
      await collector.close();
    }
  });

  it("a collector on a client of the user's refused by the server: the error a scrape rejects with holds no password", async () => {
    const client = new Redis({
      port: authServer.port,
      host: '127.0.0.1',
      password: SECRET,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    try {
      const error = await RedisMultiProcessCollector.mergeFromRedis(
        client,
        uniquePrefix('merge'),
      ).then(
        () => undefined,
        (rejected: unknown) => rejected as Error & { command?: unknown },
      );
      expect(error?.message).toBe('WRONGPASS invalid username-password pair or user is disabled.');
      expect(error?.command).toEqual({ name: 'hello', args: ['3', 'AUTH', 'default', '***'] });
      expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
    } finally {
      client.disconnect();
    }
  });

  it("a client of the user's that gave up reconnecting is described as ended, not as reconnecting", async () => {
    const port = await freePort();
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const error = await client.connect().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(client.status).toBe('end');
    expect(describeRedisError(error, client)).toBe(
      `not connected to Redis at 127.0.0.1:${port}: the client has ended and does not reconnect (closed, or its retryStrategy stopped retrying)`,
    );
  });

  /** A client of the user's on the password-protected server, connected, without an offline queue. */
  async function connectedWithoutQueue(): Promise<Redis> {
    const client = new Redis({
      port: authServer.port,
      host: '127.0.0.1',
      password: authServer.password,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  it('a command right after this process disconnected: closed by this process, not reconnecting', async () => {
    const client = await connectedWithoutQueue();

    // A shutdown's disconnect: until the socket has closed, ioredis still says "ready".
    client.disconnect();
    const error = await client.ping().then(
      () => undefined,
      (failure: unknown) => failure,
    );

    // It said "(ready); the client keeps reconnecting".
    expect(describeRedisError(error, client)).toBe(
      `not connected to Redis at 127.0.0.1:${authServer.port}: this process closed the connection (disconnect() or quit()), and the client does not reconnect`,
    );
  });

  it('a command as the connection drops, before ioredis heard of it: closed as it was sent', async () => {
    const client = await connectedWithoutQueue();

    // The socket is gone; ioredis learns it at the socket's 'close' event, after this command.
    client.stream.destroy();
    const error = await client.ping().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    const described = describeRedisError(error, client);
    client.disconnect();

    // It said "(ready); the client keeps reconnecting".
    expect(described).toBe(
      `not connected to Redis at 127.0.0.1:${authServer.port}: the connection closed as the command was sent; the client reconnects`,
    );
  });
});

describe('a Sentinel setup that cannot be used names its cause', () => {
  const SENTINEL_SECRET = 'sentinel-pa55word';
  let sentinel: RedisSentinelHandle;
  let addresses: string;

  beforeAll(async () => {
    sentinel = await startRedisSentinel({ sentinelPassword: SENTINEL_SECRET });
    addresses = sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(', ');
  });
  afterAll(async () => {
    await sentinel?.stop();
  });

  it("a wrong sentinel password: the sentinels refused it, not the master's password", async () => {
    // ioredis words it "All sentinels are unreachable. ... Last error: WRONGPASS invalid
    // username-password pair": that WRONGPASS is the sentinels', the master was never reached.
    const failure = await reportedFailure({
      sentinels: sentinel.sentinels,
      sentinelMaster: sentinel.masterName,
      sentinelPassword: 'not-the-sentinel-password',
      // No fresh-scrape subscription: set-up would wait 3 s more for one that cannot connect.
      freshScrapeWaitMs: 0,
    });
    expectReported(
      failure,
      `Sentinel: the sentinels at ${addresses} refused the password (check the sentinelPassword option)`,
      ['not-the-sentinel-password', SENTINEL_SECRET],
    );
    expect(failure.commandError).toBeInstanceOf(RedisAuthenticationError);
  });

  it('no sentinel password where the sentinels require one: asked for, not "refused"', async () => {
    // ioredis sent no AUTH, and the sentinels answered "NOAUTH Authentication required": no password
    // was refused, so the line asks for one, as NOAUTH from the master does.
    const failure = await reportedFailure({
      sentinels: sentinel.sentinels,
      sentinelMaster: sentinel.masterName,
      freshScrapeWaitMs: 0,
    });
    expectReported(
      failure,
      `Sentinel: the sentinels at ${addresses} require a password (set the sentinelPassword option)`,
      [SENTINEL_SECRET],
    );
    expect(failure.commandError).toBeInstanceOf(RedisAuthenticationError);
  });

  it('a master the sentinels name that refuses connections: named as theirs, not the host / port options', async () => {
    // The sentinels monitor a master on a port nothing listens on (down, and not failed over: it has
    // no replica). Host and port options are not used with sentinels: the address is the sentinels'.
    const masterName = 'refusing-master';
    const port = await freePort();
    for (const { host, port: sentinelPort } of sentinel.sentinels) {
      const admin = new Redis({ host, port: sentinelPort, password: SENTINEL_SECRET });
      await admin.call('SENTINEL', 'MONITOR', masterName, '127.0.0.1', String(port), '2');
      admin.disconnect();
    }
    const failure = await reportedFailure({
      sentinels: sentinel.sentinels,
      sentinelMaster: masterName,
      sentinelPassword: SENTINEL_SECRET,
      freshScrapeWaitMs: 0,
    });
    expectReported(
      failure,
      `connection refused at 127.0.0.1:${port} (is Redis running there? the sentinels name it the master "${masterName}" until they fail it over)`,
      [SENTINEL_SECRET],
    );
  });

  it('a master name no sentinel monitors: named, not "no sentinel answered"', async () => {
    const failure = await reportedFailure(
      readRedisMetricsOptionsFromEnv({
        REDIS_ENABLED: 'true',
        REDIS_SENTINELS: sentinel.sentinels.map(({ host, port }) => `${host}:${port}`).join(','),
        REDIS_SENTINEL_MASTER: 'not-monitored',
        REDIS_SENTINEL_PASSWORD: SENTINEL_SECRET,
        REDIS_FRESH_SCRAPE_WAIT_MS: '0',
      }),
    );
    expectReported(
      failure,
      'Sentinel: no sentinel knows a master named "not-monitored" (check REDIS_SENTINEL_MASTER)',
      [SENTINEL_SECRET],
    );
  });
});

describe('a server at its maxclients names the limit', () => {
  it('Redis refuses a new connection with "max number of clients reached": maxclients, not only a TLS port', async () => {
    const dir = await makeTempDir('maxclients');
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
        ...['--maxclients', '1'],
      ],
    });
    // The one connection the server allows, held by another client.
    const holder = new Redis({ port: server.port, host: '127.0.0.1' });
    holder.on('error', () => undefined);
    const keyPrefix = uniquePrefix('maxclients');
    const { manager, logged } = managerKeepingLogs(`redis://127.0.0.1:${server.port}`, keyPrefix);
    const at = `127.0.0.1:${server.port}`;
    const refused = `maxclients: ${at} has reached its maxclients limit and refuses new connections (ERR max number of clients reached; raise maxclients there or close clients; the client keeps reconnecting)`;
    try {
      await holder.ping();
      expect(await manager.setup()).toBe(false);
      const flushWarnings = () => logged.filter((line) => line.startsWith('Flushing metrics to '));
      const flushing = `Flushing metrics to Redis under prefix "${keyPrefix}"`;
      const failedFirst = `${flushing} failed; counting goes on in memory and is retried every 250 ms: `;
      // The first attempt's cause depends on when ioredis sees the socket close: often before it reads
      // Redis's refusal, which then reads as a TLS port (its hint asks about maxclients too), and on a
      // busy machine a reset or a timeout as well. Only that it is the first failure's line is fixed.
      expect(flushWarnings()[0].startsWith(failedFirst)).toBe(true);
      // One of the attempts that follow reads the refusal, and from then on it is named.
      const deadline = Date.now() + 5_000;
      while ((await manager.health()).error !== refused && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await manager.health()).error).toBe(refused);
      const failed = await (manager.getClient() as Redis).ping().then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      expect(failed).toBeInstanceOf(RedisConnectionError);
      expect(failed?.message).toBe(refused);
      // The log names the refusal too, once: in its first line, or in one that follows the first (at
      // the next failed flush, every 250 ms), each cause said once.
      const namedLater = `${flushing} still fails, now because: ${refused}; counting goes on in memory and is retried every 250 ms`;
      const named = () =>
        flushWarnings().filter(
          (line) => line === `${failedFirst}${refused}` || line === namedLater,
        );
      while (named().length === 0 && Date.now() < deadline + 2_000) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(named()).toHaveLength(1);
      expect(new Set(flushWarnings()).size).toBe(flushWarnings().length);
    } finally {
      await manager.teardown();
      holder.disconnect();
      await server.kill();
      await removeTempDir(dir);
    }
  });
});

describe('a password set on Redis while the module runs', () => {
  it('the log names NOAUTH once the reconnection meets it, after the first line named the lost connection', async () => {
    const dir = await makeTempDir('requirepass');
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => [...['--port', String(port), '--bind', '127.0.0.1', '--save', '']],
    });
    const at = `127.0.0.1:${server.port}`;
    const keyPrefix = uniquePrefix('requirepass');
    const logged: string[] = [];
    const manager = new RedisStorageManager(
      {
        url: `redis://${at}`,
        keyPrefix,
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        freshScrapeWaitMs: 0,
        flushIntervalMs: 60_000,
      },
      {
        log: (message: string) => void logged.push(message),
        warn: (message: string) => void logged.push(message),
        error: (message: string) => void logged.push(message),
      },
    );
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    admin.on('error', () => undefined);
    const where = `Redis under prefix "${keyPrefix}"`;
    const noauth = `NOAUTH: ${at} requires a password (put it in the url option)`;
    try {
      expect(await manager.setup()).toBe(true);
      logged.length = 0;
      await admin.call('CONFIG', 'SET', 'requirepass', 'Runtime-pa55');
      await admin.auth('Runtime-pa55');
      const client = manager.getClient() as Redis;
      const closed = new Promise((resolve) => client.once('close', resolve));
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
      await closed;
      // The first failure meets the connection as it is lost, before the reconnection's NOAUTH.
      const first = await manager.flush();
      expect(first?.ok).toBe(false);
      const deadline = Date.now() + 5_000;
      // Flushes every 100 ms, as the background would: the reconnection meets NOAUTH meanwhile.
      while ((await manager.flush())?.error?.message !== noauth && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await manager.health()).error).toBe(noauth);
      for (let i = 0; i < 3; i++) expect((await manager.flush())?.ok).toBe(false);
      const warnings = logged.filter((line) => line.startsWith(`Flushing metrics to ${where}`));
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toBe(
        `Flushing metrics to ${where} failed; counting goes on in memory and is retried every 60000 ms: ${first?.error?.message}`,
      );
      expect(first?.error?.message).not.toBe(noauth);
      expect(warnings[1]).toBe(
        `Flushing metrics to ${where} still fails, now because: ${noauth}; counting goes on in memory and is retried every 60000 ms`,
      );
      await admin.call('CONFIG', 'SET', 'requirepass', '');
      const recovered = Date.now() + 5_000;
      while (!(await manager.flush())?.ok && Date.now() < recovered) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(logged.filter((line) => line.startsWith(`Flushing metrics to ${where}`))).toEqual([
        ...warnings,
        `Flushing metrics to ${where} works again.`,
      ]);
      expect(JSON.stringify(logged)).not.toContain('Runtime-pa55');
    } finally {
      await manager.teardown();
      admin.disconnect();
      await server.kill();
      await removeTempDir(dir);
    }
  });
});

describe('a connection that worked and was lost names the loss', () => {
  it('Redis killed with a command waiting unread: the connection lost, not a guess at a TLS port', async () => {
    const dir = await makeTempDir('lost-connection');
    const server = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port: number) => [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
        ...['--enable-debug-command', 'local'],
      ],
    });
    const ignore = () => undefined;
    // A client of the user's that waits 10 s before it reconnects, so that its last error stays the
    // loss, and fails commands at once meanwhile, as the module's own client does.
    const client = new Redis({
      port: server.port,
      host: '127.0.0.1',
      retryStrategy: () => 10_000,
      enableOfflineQueue: false,
    });
    client.on('error', ignore);
    const manager = new RedisStorageManager(
      {
        client,
        keyPrefix: uniquePrefix('lost'),
        registry: new Registry(),
        defaultMetrics: false,
        httpMetrics: false,
        freshScrapeWaitMs: 0,
        flushIntervalMs: 60_000,
        // The shutdown's wait for a reconnection, which comes only after 10 s.
        scrapeTimeoutMs: 500,
      },
      { log: ignore, warn: ignore, error: ignore },
    );
    const admin = new Redis({ port: server.port, host: '127.0.0.1' });
    admin.on('error', ignore);
    try {
      expect(await manager.setup()).toBe(true);
      await admin.ping();
      // Redis stops reading: a command sent now waits unread in its socket, so the kill resets the
      // connection (ECONNRESET) of a client that had been ready all along.
      void admin.call('DEBUG', 'SLEEP', '5').catch(ignore);
      await new Promise((resolve) => setTimeout(resolve, 100));
      void client.ping().catch(ignore);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = new Promise((resolve) => client.once('close', resolve));
      await server.kill();
      await closed;
      const flushed = await manager.flush();

      const lost = `connection to 127.0.0.1:${server.port} lost (ECONNRESET); the client keeps reconnecting`;
      expect(flushed?.error?.message).toBe(lost);
      expect((await manager.health()).error).toBe(lost);
    } finally {
      await manager.teardown();
      client.disconnect();
      admin.disconnect();
      await removeTempDir(dir);
    }
  });
});
