import 'reflect-metadata';

import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';

import {
  RedisMetricsConfigError,
  RedisMetricsModule,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';

const SECRET = 's3cr3t-t0ken';

/** The message of the error a manager made with these options throws (options as JavaScript passes them). */
function errorOf(options: unknown): string {
  try {
    new RedisStorageManager(options as RedisMetricsModuleOptions);
  } catch (error) {
    if (error instanceof RedisMetricsConfigError) return error.message;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

describe('options given in code, checked as JavaScript or an untyped factory may give them', () => {
  it('names an option it does not know, with the one it is closest to', () => {
    expect(errorOf({ keyprefix: 'shop' })).toBe(
      'nestjs-redis-metrics: option "keyprefix" is not an option of RedisMetricsModule; did you mean "keyPrefix"?',
    );
    expect(errorOf({ flushIntervalMS: 100 })).toBe(
      'nestjs-redis-metrics: option "flushIntervalMS" is not an option of RedisMetricsModule; did you mean "flushIntervalMs"?',
    );
    expect(errorOf({ gaugeMode: { x: 'max' } })).toBe(
      'nestjs-redis-metrics: option "gaugeMode" is not an option of RedisMetricsModule; did you mean "gaugeModes"?',
    );
    expect(errorOf({ colour: 'red' })).toBe(
      'nestjs-redis-metrics: option "colour" is not an option of RedisMetricsModule',
    );
    // An unknown name without a value loses nothing: a config object may list names it leaves unset.
    expect(() => new RedisStorageManager({ tls: undefined } as never)).not.toThrow();
  });

  it('names the option of this module that an option of @willsoto/nestjs-prometheus became', () => {
    // A migration that kept its old options: `path` was suggested "auth", `global` nothing.
    expect(errorOf({ path: '/metrics' })).toBe(
      'nestjs-redis-metrics: option "path" is the name @willsoto/nestjs-prometheus gives the route; here it is the extra "metricsPath" (forRoot({ metricsPath: \'metrics\' }), or beside useFactory in forRootAsync())',
    );
    expect(errorOf({ global: true })).toBe(
      'nestjs-redis-metrics: option "global" is the name @willsoto/nestjs-prometheus gives it; here it is the extra "isGlobal" (true by default)',
    );
    expect(errorOf({ pushgateway: { url: 'http://pushgateway:9091' } })).toBe(
      'nestjs-redis-metrics: option "pushgateway" is not an option of RedisMetricsModule: Prometheus scrapes any process and gets every process, so nothing is pushed',
    );
  });

  it('names a nested option it does not know, at every depth, with the one it is closest to', () => {
    // Given one level up: prom-client's names belong in config.
    expect(errorOf({ url: 'redis://localhost', defaultMetrics: { prefix: 'x_' } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.prefix" is not a setting of defaultMetrics; did you mean "config.prefix"? (defaultMetrics: { enabled: true, config: { prefix } })',
    );
    expect(errorOf({ defaultMetrics: { enable: true } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.enable" is not a setting of defaultMetrics; did you mean "enabled"?',
    );
    // config is checked against the names of prom-client's DefaultMetricsCollectorConfiguration.
    expect(errorOf({ defaultMetrics: { enabled: true, config: { prefx: 'x_' } } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.prefx" is not a setting of prom-client\'s collectDefaultMetrics; did you mean "prefix"?',
    );
    expect(errorOf({ defaultMetrics: { enabled: true, config: { timeout: 10 } } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.timeout" is not a setting of prom-client\'s collectDefaultMetrics',
    );
    expect(
      errorOf({ defaultMetrics: { enabled: true, config: { register: new Registry() } } }),
    ).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.register" is set by the module (its registry): give the registry as the "registry" option',
    );
    expect(errorOf({ defaultMetrics: 'yes' })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics" must be true, false or { enabled, config }; got "yes"',
    );
    expect(errorOf({ identity: { host: 'web-1' } })).toBe(
      'nestjs-redis-metrics: option "identity.host" is not a setting of identity; did you mean "hostname"?',
    );
    // The value of a misspelt credential is never shown.
    const basic = errorOf({ auth: { basic: { user: 'prometheus', password: SECRET } } });
    expect(basic).toBe(
      'nestjs-redis-metrics: option "auth.basic.user" is not a setting of auth.basic; did you mean "username"?',
    );
    expect(
      errorOf({
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', prot: 26380 },
        ],
        sentinelMaster: 'mymaster',
      }),
    ).toBe(
      'nestjs-redis-metrics: option "sentinels[1].prot" is not a setting of a sentinel address; did you mean "port"?',
    );
    // Every known name passes, prom-client's included.
    expect(
      () =>
        new RedisStorageManager({
          registry: new Registry(),
          identity: { hostname: 'web-1', pid: 1 },
          defaultMetrics: {
            enabled: true,
            config: {
              prefix: 'x_',
              labels: { app: 'shop' },
              gcDurationBuckets: [0.1, 1],
              eventLoopMonitoringPrecision: 10,
            },
          },
        }),
    ).not.toThrow();
  });

  it('refuses an auth option that would leave the routes open, never showing its values', () => {
    const bearer = errorOf({ auth: { bearer: SECRET } });
    expect(bearer).toBe(
      'nestjs-redis-metrics: option "auth.bearer" is not a setting of auth; did you mean "bearerToken"?',
    );
    expect(errorOf({ auth: {} })).toBe(
      'nestjs-redis-metrics: option "auth" has neither bearerToken nor basic: the routes would be open to anyone',
    );
    expect(errorOf({ auth: { bearerToken: '' } })).toBe(
      'nestjs-redis-metrics: option "auth" has a bearerToken that is not a non-empty string',
    );
    const spaced = errorOf({ auth: { bearerToken: `${SECRET}\n` } });
    expect(spaced).toBe(
      'nestjs-redis-metrics: option "auth" has a bearerToken that starts or ends with whitespace, which no Authorization header carries',
    );
    const basic = errorOf({ auth: { basic: { username: '', password: SECRET } } });
    expect(basic).toBe(
      'nestjs-redis-metrics: option "auth" has basic credentials without a non-empty username and a password string',
    );
    expect(errorOf({ auth: { basic: { username: SECRET, password: '' } } })).toBe(
      'nestjs-redis-metrics: option "auth" has basic credentials with an empty password, which anyone who sends the user name would pass',
    );
    expect(errorOf({ auth: { bearerToken: `${SECRET}é` } })).toBe(
      'nestjs-redis-metrics: option "auth" has a bearerToken with a character outside printable ASCII: scrapers send it as UTF-8, which the routes read as Latin-1, so it would never match',
    );
    expect(errorOf({ auth: { basic: { username: `a:${SECRET}`, password: SECRET } } })).toBe(
      'nestjs-redis-metrics: option "auth" has a basic username with a ":", which Basic auth cannot carry (the first ":" ends the user name)',
    );
    expect(`${bearer}${basic}`).not.toContain(SECRET);
    expect(
      () => new RedisStorageManager({ auth: { basic: { username: 'p', password: SECRET } } }),
    ).not.toThrow();
  });

  it('checks the types and values of the options that only code gives', () => {
    expect(errorOf({ gaugeModes: { queue_depth: 'max', workers: 'avg' } })).toBe(
      'nestjs-redis-metrics: option "gaugeModes" gives gauge "workers" the mode "avg"; a mode is one of all, liveall, live, max, min, sum, mostrecent, livemax, livemin, livesum, livemostrecent',
    );
    expect(errorOf({ httpMetrics: 'no' })).toBe(
      'nestjs-redis-metrics: option "httpMetrics" must be true or false; got "no"',
    );
    expect(errorOf({ defaultLabels: { app: { name: 'shop' } } })).toBe(
      'nestjs-redis-metrics: option "defaultLabels" must be an object of label name -> string or number',
    );
    expect(errorOf({ identity: { pid: -1 } })).toBe(
      'nestjs-redis-metrics: option "identity" must be { hostname?: a non-empty string, pid?: a whole number }',
    );
    expect(errorOf({ customMetricPrefix: 7 })).toBe(
      'nestjs-redis-metrics: option "customMetricPrefix" must be a string',
    );
    // Names Prometheus refuses: prom-client's own error at the first metric, or every series unservable.
    expect(errorOf({ customMetricPrefix: 'my-shop' })).toBe(
      'nestjs-redis-metrics: option "customMetricPrefix" must start metric names Prometheus accepts (letters, digits, _ and :, not a digit first); got "my-shop"',
    );
    expect(errorOf({ defaultLabels: { app: 'shop', 'k8s-pod': 'web-1' } })).toBe(
      'nestjs-redis-metrics: option "defaultLabels" has the label name "k8s-pod", which Prometheus does not accept (letters, digits and _, not a digit first, not __ first)',
    );
    // A bucket's or quantile's own label on every series would leave no histogram or summary servable.
    expect(errorOf({ defaultLabels: { app: 'shop', le: '1' } })).toBe(
      'nestjs-redis-metrics: option "defaultLabels" has the label name "le", which histogram buckets use for their own: rename it',
    );
    expect(errorOf({ defaultLabels: { quantile: 'p99' } })).toBe(
      'nestjs-redis-metrics: option "defaultLabels" has the label name "quantile", which summary quantiles use for their own: rename it',
    );
    // The same names given to prom-client's default metrics, which takes them as they are.
    const defaultMetricsConfig = (config: object) =>
      errorOf({ defaultMetrics: { enabled: true, config } });
    expect(defaultMetricsConfig({ labels: { 'k8s-pod': 'web-1' } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.labels" has the label name "k8s-pod", which Prometheus does not accept (letters, digits and _, not a digit first, not __ first)',
    );
    expect(defaultMetricsConfig({ labels: { pod: ['web-1'] } })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.labels" must be an object of label name -> string or number',
    );
    expect(defaultMetricsConfig({ prefix: 'my-app_' })).toBe(
      'nestjs-redis-metrics: option "defaultMetrics.config.prefix" must start metric names Prometheus accepts (letters, digits, _ and :, not a digit first); got "my-app_"',
    );
    const config = { prefix: 'app_', labels: { pod: 'web-1' } };
    expect(
      () => new RedisStorageManager({ defaultMetrics: { enabled: true, config } }),
    ).not.toThrow();
    expect(errorOf('redis://localhost')).toBe(
      'nestjs-redis-metrics: the options of RedisMetricsModule must be an object',
    );
    // Objects handed over are checked for the methods the module calls, and a URL is never shown.
    expect(errorOf({ client: `redis://:${SECRET}@localhost:6379` })).toBe(
      'nestjs-redis-metrics: option "client" must be an ioredis Redis or Cluster client (a URL goes in the "url" option); got a string',
    );
    expect(errorOf({ registry: Registry })).toBe(
      'nestjs-redis-metrics: option "registry" must be a prom-client Registry; got a function',
    );
    expect(errorOf({ store: {} })).toBe(
      'nestjs-redis-metrics: option "store" must be a MetricsStore (MemoryMetricsStore, IpcMetricsStore, RedisMetricsStore); got an object without those methods',
    );
    expect(errorOf({ httpMetrics: { self: {} } })).toBe(
      'nestjs-redis-metrics: option "httpMetrics" must be true or false; got an object',
    );
    // A mode left unset (a variable that is not there) is no mode: the gauge takes the default.
    const manager = new RedisStorageManager({
      registry: new Registry(),
      defaultGaugeMode: 'max',
      gaugeModes: { queue_depth: 'livesum', workers: undefined as never },
      httpMetrics: false,
      defaultLabels: { app: 'shop', version: 2 },
      identity: { hostname: 'web-1', pid: 0 },
      customMetricPrefix: 'shop',
    });
    expect(manager.gaugeModeOf('queue_depth')).toBe('livesum');
    expect(manager.gaugeModeOf('workers')).toBe('max');
  });

  it('refuses an extra among the options a forRootAsync() factory returns, where it would do nothing', () => {
    expect(errorOf({ url: 'redis://localhost', guards: [] })).toBe(
      'nestjs-redis-metrics: option "guards" is an extra, which shapes the module before any factory runs: give it to forRootAsync() beside useFactory (or useClass), not in the options the factory returns',
    );
    expect(errorOf({ metricsPath: 'internal/metrics' })).toContain(
      'option "metricsPath" is an extra',
    );
  });

  it('checks the extras that shape the routes when forRoot() is called', () => {
    const extraError = (extras: Record<string, unknown>) => {
      try {
        RedisMetricsModule.forRoot(extras as never);
      } catch (error) {
        if (error instanceof RedisMetricsConfigError) return error.message;
        throw error;
      }
      throw new Error(`no error for ${JSON.stringify(extras)}`);
    };
    expect(extraError({ metricsPath: 5 })).toBe(
      'nestjs-redis-metrics: extra "metricsPath" must be a path such as "metrics"; got 5',
    );
    expect(extraError({ healthPath: true })).toBe(
      'nestjs-redis-metrics: extra "healthPath" must be a path or false; got true',
    );
    expect(extraError({ controller: 'yes' })).toBe(
      'nestjs-redis-metrics: extra "controller" must be true, false or a subclass of RedisMetricsController',
    );
    expect(extraError({ guards: {} })).toBe(
      'nestjs-redis-metrics: extra "guards" must be an array of guards',
    );
    // One path for both routes: Express answered with one of them, Fastify stopped with its own error.
    expect(extraError({ healthPath: '/metrics' })).toBe(
      'nestjs-redis-metrics: extra "healthPath" is the path of the metrics route too ("metrics"): one route would hide the other; give it another path, or false for none',
    );
    expect(extraError({ metricsPath: 'internal/metrics/', healthPath: 'internal/metrics' })).toBe(
      'nestjs-redis-metrics: extra "healthPath" is the path of the metrics route too ("internal/metrics"): one route would hide the other; give it another path, or false for none',
    );
    expect(extraError({ metricsPath: 5n })).toBe(
      'nestjs-redis-metrics: extra "metricsPath" must be a path such as "metrics"; got 5n',
    );
    // forRoot() takes its extras out of the options the manager gets: none is refused there.
    const definition = RedisMetricsModule.forRoot({
      metricsPath: 'internal/metrics',
      healthPath: false,
      guards: [],
      isGlobal: true,
      controller: true,
    });
    const provided = (definition.providers as { useValue?: unknown }[]).find(
      (provider) => provider.useValue !== undefined,
    )?.useValue;
    expect(provided).toEqual({});
    expect(() => new RedisStorageManager(provided as never)).not.toThrow();
  });
});

describe('forRoot() and forRootAsync() called with what Nest cannot use', () => {
  /** The message of what `call` throws: a RedisMetricsConfigError, not Nest's TypeError. */
  function thrownBy(call: () => unknown): string {
    try {
      call();
    } catch (error) {
      if (error instanceof RedisMetricsConfigError) return error.message;
      throw error;
    }
    throw new Error('no error');
  }
  const forRoot = RedisMetricsModule.forRoot as (options?: unknown) => unknown;
  const forRootAsync = RedisMetricsModule.forRootAsync as (options?: unknown) => unknown;

  it('names the call when it gets no object, never showing a string (it may be a URL with a password)', () => {
    const EXAMPLE =
      "(forRoot({ url: 'redis://host:6379' }) stores metrics in Redis, forRoot({}) keeps each process's own)";
    expect(thrownBy(() => forRoot())).toBe(
      `nestjs-redis-metrics: RedisMetricsModule.forRoot() takes an object of options; got undefined ${EXAMPLE}`,
    );
    expect(thrownBy(() => forRoot(`redis://:${SECRET}@localhost:6379`))).toBe(
      `nestjs-redis-metrics: RedisMetricsModule.forRoot() takes an object of options; got a string ${EXAMPLE}`,
    );
    expect(thrownBy(() => forRootAsync())).toBe(
      'nestjs-redis-metrics: RedisMetricsModule.forRootAsync() takes an object with useFactory, useClass or useExisting; got undefined',
    );
    expect(thrownBy(() => forRootAsync(null))).toBe(
      'nestjs-redis-metrics: RedisMetricsModule.forRootAsync() takes an object with useFactory, useClass or useExisting; got null',
    );
  });

  it('refuses a forRootAsync() without a factory, or with two', () => {
    // TypeScript accepts {}: every key of Nest's async options is optional.
    expect(thrownBy(() => RedisMetricsModule.forRootAsync({}))).toBe(
      'nestjs-redis-metrics: RedisMetricsModule.forRootAsync() needs one of useFactory, useClass or useExisting to make the options (options written in code go to forRoot())',
    );
    expect(thrownBy(() => RedisMetricsModule.forRootAsync({ inject: [], imports: [] }))).toBe(
      'nestjs-redis-metrics: RedisMetricsModule.forRootAsync() needs one of useFactory, useClass or useExisting to make the options (options written in code go to forRoot())',
    );
    class Options {
      create() {
        return {};
      }
    }
    expect(
      thrownBy(() =>
        RedisMetricsModule.forRootAsync({ useFactory: () => ({}), useClass: Options }),
      ),
    ).toBe(
      'nestjs-redis-metrics: RedisMetricsModule.forRootAsync() takes one of useFactory, useClass or useExisting; got useFactory and useClass',
    );
    expect(() => RedisMetricsModule.forRootAsync({ useFactory: () => ({}) })).not.toThrow();
    expect(() => RedisMetricsModule.forRoot({})).not.toThrow();
  });

  it("names create() when a useClass or useExisting factory kept @willsoto/nestjs-prometheus' createPrometheusOptions()", () => {
    // Such a class, migrated as the README's table says, failed at start-up with Nest's
    // "TypeError: optionsFactory[self.factoryClassMethodKey] is not a function".
    class PrometheusConfigService {
      createPrometheusOptions() {
        return { url: 'redis://localhost:6379' };
      }
    }
    const MESSAGE = (way: string) =>
      `nestjs-redis-metrics: ${way} of RedisMetricsModule.forRootAsync() has no create() method: @willsoto/nestjs-prometheus calls createPrometheusOptions(), this module calls create() (see RedisMetricsOptionsFactory): rename the method`;
    expect(
      thrownBy(() =>
        RedisMetricsModule.forRootAsync({ useClass: PrometheusConfigService as never }),
      ),
    ).toBe(MESSAGE('useClass PrometheusConfigService'));
    expect(
      thrownBy(() =>
        RedisMetricsModule.forRootAsync({ useExisting: PrometheusConfigService as never }),
      ),
    ).toBe(MESSAGE('useExisting PrometheusConfigService'));
    // A class with create(), a subclass that inherits it, and a token that is no class pass.
    class Options {
      create() {
        return {};
      }
    }
    class MoreOptions extends Options {}
    expect(() => RedisMetricsModule.forRootAsync({ useClass: Options })).not.toThrow();
    expect(() => RedisMetricsModule.forRootAsync({ useClass: MoreOptions })).not.toThrow();
    expect(() =>
      RedisMetricsModule.forRootAsync({ useExisting: 'OPTIONS' as never }),
    ).not.toThrow();
  });

  it('names a factory that returned no options when the app starts, instead of a TypeError or storage off', async () => {
    const MESSAGE = (what: string) =>
      `nestjs-redis-metrics: the options of RedisMetricsModule are ${what}: the forRootAsync() factory (useFactory, or the create() of useClass / useExisting) must return the options object (is a return missing?)`;
    const startError = async (module: unknown) => {
      const moduleRef = await Test.createTestingModule({ imports: [module as never] }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      await app.close();
    };
    // A block body without `return` returns undefined (a TypeScript error only where the config is typed).
    const noReturn = (() => {
      const options = { url: 'redis://localhost:6379' };
      void options;
    }) as never;
    await expect(
      startError(RedisMetricsModule.forRootAsync({ useFactory: noReturn })),
    ).rejects.toThrow(MESSAGE('undefined'));
    class NullOptions {
      create() {
        return null as never;
      }
    }
    await expect(
      startError(RedisMetricsModule.forRootAsync({ useClass: NullOptions })),
    ).rejects.toThrow(MESSAGE('null'));
  });
});
