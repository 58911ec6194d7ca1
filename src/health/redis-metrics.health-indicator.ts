import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';

import { RedisStorageManager } from '../redis-storage-manager.js';

/**
 * A @nestjs/terminus health indicator of the metrics storage: `up` when Redis storage works or is off,
 * `down` whenever the module's health route answers 503 (Redis unreachable or too slow, or no write yet
 * since start-up), with what that route reports (`storage`, `liveProcesses`, `lastFlushAgeMs`, `error`)
 * as its data. Never contains a secret. For a readiness check, not a liveness one.
 *
 * Provide it in the module of your health controller, which imports `TerminusModule`.
 *
 * @example
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.redisMetrics.isHealthy()]); }
 */
@Injectable()
export class RedisMetricsHealthIndicator {
  constructor(
    @Inject(RedisStorageManager) private readonly manager: RedisStorageManager,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
  ) {}

  /** Checks the metrics storage under `key` (default `redisMetrics`). */
  async isHealthy<const Key extends string = 'redisMetrics'>(
    key: Key = 'redisMetrics' as Key,
  ): Promise<HealthIndicatorResult<Key>> {
    const { status, liveProcesses, lastFlushAgeMs, error } = await this.manager.health();
    const session = this.indicators.check(key);
    const data = { storage: status, liveProcesses, lastFlushAgeMs, ...(error ? { error } : {}) };
    return status === 'degraded' ? session.down(data) : session.up(data);
  }
}
