import {
  RedisMultiProcessCollector,
  type RedisMultiProcessCollectorOptions,
} from '../../src/index.js';

/** A collector with `options` whose warnings are kept, in order, for a test to read. */
export function collectorKeepingWarnings(
  options: Omit<RedisMultiProcessCollectorOptions, 'logger'>,
): { collector: RedisMultiProcessCollector; warnings: string[] } {
  const warnings: string[] = [];
  const collector = new RedisMultiProcessCollector({
    ...options,
    logger: { warn: (message) => warnings.push(message) },
  });
  return { collector, warnings };
}
