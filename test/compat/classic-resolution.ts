// Compiled by scripts/test-consumer-app.sh as an app on the CommonJS tsconfig of older Nest starters
// (`module: commonjs`, so `moduleResolution: node10`), which does not read `exports`: the subpaths
// must resolve through `typesVersions`.
import { RedisMetricsModule } from 'nestjs-redis-metrics';
import type { redisMetricsConfig } from 'nestjs-redis-metrics/config';
import type { RedisMetricsHealthIndicator } from 'nestjs-redis-metrics/terminus';

export type Resolved = [
  typeof RedisMetricsModule,
  typeof redisMetricsConfig,
  RedisMetricsHealthIndicator,
];
