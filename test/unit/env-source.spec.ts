import {
  describeRedisMetricsEnv,
  readMetricsAuthFromEnv,
  readRedisMetricsOptionsFromEnv,
  RedisMetricsConfigError,
  redisUrlFromEnv,
} from '../../src/index.js';

const SECRET = 'pa55-in-url';
const SENTINELS = { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_MASTER: 'mymaster' };

describe('which environment variable turns Redis storage on', () => {
  it.each([
    [{}, undefined, false],
    [{ PROMETHEUS_REDIS_URL: 'redis://metrics:6379' }, 'PROMETHEUS_REDIS_URL', true],
    [{ REDIS_URL: 'redis://cache:6379' }, 'REDIS_URL', true],
    [
      { PROMETHEUS_REDIS_URL: 'redis://metrics:6379', REDIS_URL: 'redis://cache:6379' },
      'PROMETHEUS_REDIS_URL',
      true,
    ],
    [{ REDIS_URL: 'redis://cache:6379', REDIS_ENABLED: 'false' }, 'REDIS_URL', false],
    [{ REDIS_HOST: 'cache' }, undefined, false],
    [{ REDIS_HOST: 'cache', REDIS_ENABLED: 'yes' }, undefined, true],
  ] as [Record<string, string>, string | undefined, boolean][])(
    '%j: URL from %s, enabled %s',
    (env, variable, enabled) => {
      expect(redisUrlFromEnv(env)?.variable).toBe(variable);
      const options = readRedisMetricsOptionsFromEnv(env);
      expect(options.enabled).toBe(enabled);
      if (variable) expect(options.url).toBe(env[variable]);
    },
  );

  it('takes host, port and db from the winning URL', () => {
    const options = readRedisMetricsOptionsFromEnv({
      REDIS_URL: 'redis://cache:6390/4',
      REDIS_HOST: 'ignored',
    });
    expect(options).toMatchObject({ enabled: true, host: 'cache', port: 6390, db: 4 });
  });

  it('names REDIS_URL in the error when that is the bad URL, without the password', () => {
    let error: unknown;
    try {
      readRedisMetricsOptionsFromEnv({ REDIS_URL: `http://user:${SECRET}@cache` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisMetricsConfigError);
    expect((error as Error).message).toBe(
      'nestjs-redis-metrics: REDIS_URL must start with redis:// or rediss://; got "http://"',
    );
  });

  it.each([
    [
      {},
      'Redis metrics storage off in the environment: neither PROMETHEUS_REDIS_URL, REDIS_URL nor REDIS_ENABLED is set (a client, url or store given in code turns it on).',
    ],
    [
      { REDIS_HOST: 'cache' },
      'Redis metrics storage off: REDIS_HOST is set but ignored without REDIS_ENABLED=true (or a URL in PROMETHEUS_REDIS_URL or REDIS_URL, which turns storage on by itself).',
    ],
    [
      { REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: SECRET },
      'Redis metrics storage off: REDIS_HOST, REDIS_PORT and REDIS_PASSWORD are set but ignored without REDIS_ENABLED=true (or a URL in PROMETHEUS_REDIS_URL or REDIS_URL, which turns storage on by itself).',
    ],
    [{ REDIS_URL: `redis://:${SECRET}@cache` }, 'Redis metrics storage on: the URL of REDIS_URL.'],
    [
      { PROMETHEUS_REDIS_URL: `redis://:${SECRET}@m`, REDIS_URL: 'redis://cache' },
      'Redis metrics storage on: the URL of PROMETHEUS_REDIS_URL (REDIS_URL is set too and left alone).',
    ],
    // Platforms set REDIS_PASSWORD (and REDIS_HOST, REDIS_PORT) beside a REDIS_URL: the line said
    // nothing of the password it dropped, and the server's NOAUTH was the first sign of it.
    [
      { REDIS_URL: 'redis://cache', REDIS_PASSWORD: SECRET },
      'Redis metrics storage on: the URL of REDIS_URL (REDIS_PASSWORD is set too and left alone: the URL names the server, database, credentials and TLS).',
    ],
    [
      {
        PROMETHEUS_REDIS_URL: 'redis://m',
        REDIS_URL: 'redis://cache',
        REDIS_HOST: 'cache',
        REDIS_DB: '3',
        REDIS_SSL: 'true',
      },
      'Redis metrics storage on: the URL of PROMETHEUS_REDIS_URL (REDIS_URL, REDIS_HOST, REDIS_DB and REDIS_SSL are set too and left alone: the URL names the server, database, credentials and TLS).',
    ],
    [
      { REDIS_URL: 'redis://cache', REDIS_ENABLED: 'false' },
      'Redis metrics storage off: REDIS_ENABLED=false, although REDIS_URL is set.',
    ],
    [
      { REDIS_ENABLED: 'true', REDIS_HOST: 'cache', REDIS_PASSWORD: SECRET },
      'Redis metrics storage on: REDIS_ENABLED with REDIS_HOST, REDIS_PORT and REDIS_DB (or their defaults).',
    ],
    [
      { REDIS_URL: `redis://:${SECRET}@cache`, ...SENTINELS, REDIS_ENABLED: 'true' },
      'Redis metrics storage on: REDIS_ENABLED, through the sentinels of REDIS_SENTINELS (REDIS_URL is set too and left alone).',
    ],
    [
      { REDIS_URL: `redis://:${SECRET}@cache`, ...SENTINELS },
      'Redis metrics storage off: REDIS_SENTINELS is set, but not REDIS_ENABLED=true (REDIS_URL is set too and left alone).',
    ],
    [
      { ...SENTINELS, REDIS_ENABLED: 'true' },
      'Redis metrics storage on: REDIS_ENABLED, through the sentinels of REDIS_SENTINELS.',
    ],
    [
      { ...SENTINELS, REDIS_ENABLED: 'off' },
      'Redis metrics storage off: REDIS_ENABLED=off, although REDIS_SENTINELS is set.',
    ],
  ] as [Record<string, string>, string][])('logs for %j: %s', (env, line) => {
    expect(describeRedisMetricsEnv(env)).toBe(line);
    expect(line).not.toContain(SECRET);
    // The line says what the options read from the same variables do.
    const options = readRedisMetricsOptionsFromEnv(env);
    expect(options.enabled).toBe(line.startsWith('Redis metrics storage on'));
    if (line.includes('REDIS_SENTINELS name')) expect(options.sentinelMaster).toBe('mymaster');
    // What the line says is left alone is: the options hold the URL's server, none of those settings.
    if (line.includes('names the server')) {
      expect(options).toMatchObject({ port: 6379, db: 0, ssl: false });
      expect(options.host).toMatch(/^(cache|m)$/);
      expect(options.password).toBeUndefined();
    }
  });
});

describe('protection of the routes from the environment', () => {
  it('reads a bearer token and basic credentials', () => {
    expect(readMetricsAuthFromEnv({})).toBeUndefined();
    // Empty counts as unset, as the README says: the routes stay open.
    expect(readMetricsAuthFromEnv({ METRICS_AUTH_TOKEN: '' })).toBeUndefined();
    expect(
      readMetricsAuthFromEnv({
        METRICS_AUTH_TOKEN: '',
        METRICS_AUTH_USERNAME: 'prom',
        METRICS_AUTH_PASSWORD: 'pw',
      }),
    ).toEqual({ basic: { username: 'prom', password: 'pw' } });
    expect(readMetricsAuthFromEnv({ METRICS_AUTH_TOKEN: 't0k' })).toEqual({ bearerToken: 't0k' });
    expect(
      readMetricsAuthFromEnv({ METRICS_AUTH_USERNAME: 'prom', METRICS_AUTH_PASSWORD: SECRET }),
    ).toEqual({ basic: { username: 'prom', password: SECRET } });
  });

  it('trims the values, as Prometheus trims a credentials file, and refuses a blank one', () => {
    expect(readMetricsAuthFromEnv({ METRICS_AUTH_TOKEN: 't0k\n' })).toEqual({ bearerToken: 't0k' });
    expect(
      readMetricsAuthFromEnv({
        METRICS_AUTH_USERNAME: ' prom',
        METRICS_AUTH_PASSWORD: `${SECRET}\n`,
      }),
    ).toEqual({ basic: { username: 'prom', password: SECRET } });
    expect(() => readMetricsAuthFromEnv({ METRICS_AUTH_TOKEN: ' \n' })).toThrow(
      new RedisMetricsConfigError('METRICS_AUTH_TOKEN', 'holds only whitespace'),
    );
  });

  it('stops on half of the basic credentials, without the password', () => {
    expect(() => readMetricsAuthFromEnv({ METRICS_AUTH_PASSWORD: SECRET })).toThrow(
      new RedisMetricsConfigError(
        'METRICS_AUTH_USERNAME',
        'must be set as well: basic auth needs both METRICS_AUTH_USERNAME and METRICS_AUTH_PASSWORD',
      ),
    );
  });
});
