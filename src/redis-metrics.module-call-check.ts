import { RedisMetricsConfigError } from './errors.js';

// What forRoot() and forRootAsync() were handed, checked before Nest's builder reads it: given no
// object (JavaScript, `any`, `forRoot()` as @willsoto/nestjs-prometheus' `register()` allows) or an
// async object without a factory, the builder failed with a TypeError or a dependency error about a
// Symbol, neither naming the call.

/** What a value is, never the value (a string may be a URL with a password). */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** @throws RedisMetricsConfigError when `forRoot()` was given no options object. */
export function checkForRootCall(options: unknown): void {
  if (isObject(options)) return;
  throw new RedisMetricsConfigError(
    'RedisMetricsModule.forRoot()',
    `takes an object of options; got ${kindOf(options)} (forRoot({ url: 'redis://host:6379' }) stores metrics in Redis, forRoot({}) keeps each process's own)`,
  );
}

/** @throws RedisMetricsConfigError when `forRootAsync()` was given no object or no way to make the options. */
export function checkForRootAsyncCall(options: unknown): void {
  if (!isObject(options)) {
    throw new RedisMetricsConfigError(
      'RedisMetricsModule.forRootAsync()',
      `takes an object with useFactory, useClass or useExisting; got ${kindOf(options)}`,
    );
  }
  const ways = ['useFactory', 'useClass', 'useExisting'].filter(
    (way) => options[way] !== undefined,
  );
  if (ways.length === 1) {
    checkFactoryClass(options, ways[0]!);
    return;
  }
  throw new RedisMetricsConfigError(
    'RedisMetricsModule.forRootAsync()',
    ways.length === 0
      ? 'needs one of useFactory, useClass or useExisting to make the options (options written in code go to forRoot())'
      : `takes one of useFactory, useClass or useExisting; got ${ways.join(' and ')}`,
  );
}

/**
 * A `useClass` or `useExisting` class migrated from @willsoto/nestjs-prometheus keeps its
 * `createPrometheusOptions()`, where Nest calls `create()` here: start-up failed with Nest's
 * `TypeError: optionsFactory[self.factoryClassMethodKey] is not a function`. Only a class that has the
 * old method and no `create()` on its prototype is refused (a `create` set in the constructor is not
 * seen there); a token that is no class is left to Nest.
 */
function checkFactoryClass(options: Record<string, unknown>, way: string): void {
  const factory = options[way];
  if (typeof factory !== 'function') return;
  const prototype = (factory as { prototype?: Record<string, unknown> }).prototype;
  if (!prototype || typeof prototype['create'] === 'function') return;
  if (typeof prototype['createPrometheusOptions'] !== 'function') return;
  throw new RedisMetricsConfigError(
    `${way} ${factory.name}`,
    'of RedisMetricsModule.forRootAsync() has no create() method: @willsoto/nestjs-prometheus calls createPrometheusOptions(), this module calls create() (see RedisMetricsOptionsFactory): rename the method',
  );
}

/**
 * The options a forRootAsync() factory returned. A block-bodied `useFactory` without `return`, or a
 * `create()` that returns nothing, gives undefined, which the module would otherwise take for `{}`
 * (storage off, without a word) or fail on with a TypeError.
 * @throws RedisMetricsConfigError when the factory returned undefined or null.
 */
export function checkFactoryResult<T>(options: T | undefined | null): T {
  if (options !== undefined && options !== null) return options;
  throw new RedisMetricsConfigError(
    'the options of RedisMetricsModule',
    `are ${String(options)}: the forRootAsync() factory (useFactory, or the create() of useClass / useExisting) must return the options object (is a return missing?)`,
  );
}
