// The entry `nestjs-redis-metrics/terminus`: what needs @nestjs/terminus, an optional peer dependency.
export { RedisMetricsHealthIndicator } from './health/redis-metrics.health-indicator.js';
