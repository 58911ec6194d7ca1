// The entry `nestjs-redis-metrics/config`: what needs @nestjs/config, an optional peer dependency.
export { redisMetricsConfig } from './redis-metrics.config.js';
