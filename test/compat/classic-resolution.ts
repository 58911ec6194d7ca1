// Compiled by scripts/test-consumer-app.sh as an app on the CommonJS tsconfig of older Nest starters
// (`module: commonjs`, so `moduleResolution: node10`), which does not read `exports`: the subpaths
// must resolve through `typesVersions`, to the same declarations as the main entry, or a class of one
// entry would not be the class of the other.
import { RedisStorageManager } from 'nestjs-redis-metrics';
import { redisMetricsConfig } from 'nestjs-redis-metrics/config';
import { RedisMetricsHealthIndicator } from 'nestjs-redis-metrics/terminus';

export function indicatorOf(
  manager: RedisStorageManager,
  indicators: ConstructorParameters<typeof RedisMetricsHealthIndicator>[1],
): RedisMetricsHealthIndicator {
  return new RedisMetricsHealthIndicator(manager, indicators);
}

export const configNamespace: string = redisMetricsConfig.KEY;
