import { Controller, Get, Headers, Inject, Res, type Type } from '@nestjs/common';

import { RedisStorageManager } from '../redis-storage-manager.js';
import { SkipRequestMetrics } from './skip-request-metrics.js';

/** The parts of an Express response or a Fastify reply the controller uses. */
interface HttpReply {
  status?: (code: number) => unknown;
  code?: (code: number) => unknown;
  setHeader?: (name: string, value: string) => unknown;
  header?: (name: string, value: string) => unknown;
}

function setHeader(reply: HttpReply, name: string, value: string): void {
  if (typeof reply.setHeader === 'function') reply.setHeader(name, value);
  else reply.header?.(name, value);
}

function setStatus(reply: HttpReply, code: number): void {
  if (typeof reply.code === 'function') reply.code(code);
  else reply.status?.(code);
}

/** Where the controller serves its two routes. */
export interface RedisMetricsPaths {
  metricsPath: string;
  healthPath: string;
}

/**
 * Makes the controller that serves `GET <metricsPath>` (every process merged; OpenMetrics when the
 * `Accept` header asks for it, Prometheus text 0.0.4 otherwise) and `GET <healthPath>` (the state of
 * Redis storage; 503 when Redis is configured but unreachable). Works on Express and Fastify.
 */
export function createRedisMetricsController(paths: RedisMetricsPaths): Type<unknown> {
  @SkipRequestMetrics()
  @Controller()
  class RedisMetricsController {
    constructor(@Inject(RedisStorageManager) private readonly manager: RedisStorageManager) {}

    @Get(paths.metricsPath)
    async metrics(
      @Headers('accept') accept: string | undefined,
      @Res({ passthrough: true }) reply: HttpReply,
    ): Promise<string> {
      const { contentType, body } = await this.manager.metrics(accept ?? '');
      setHeader(reply, 'Content-Type', contentType);
      return body;
    }

    @Get(paths.healthPath)
    async health(@Res({ passthrough: true }) reply: HttpReply) {
      const health = await this.manager.health();
      setStatus(reply, health.status === 'degraded' ? 503 : 200);
      return health;
    }
  }
  return RedisMetricsController;
}
