import {
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';

import { RedisMetricsService } from '../redis-metrics.service.js';
import { REDIS_METRICS_CONTROLLER } from './redis-metrics.controller.js';

/** What the interceptor reads of an Express or Fastify request. */
interface HttpRequest {
  method?: string;
  baseUrl?: string;
  route?: { path?: string };
  routeOptions?: { url?: string };
  routerPath?: string;
}

/** What the interceptor reads of an Express response or a Fastify reply. */
interface HttpResponse {
  statusCode?: number;
  raw?: HttpResponse;
  once?: (event: string, listener: () => void) => unknown;
}

const LABELS = ['method', 'route', 'status_code'] as const;

/**
 * Counts HTTP requests by method, route template (`/items/:id`, never `/items/42`) and status code:
 * `http_requests_total`, `http_requests_failed_total` (status 500 and above),
 * `http_request_duration_seconds` and `http_requests_in_flight` (a `livesum` gauge). The status is read
 * when the response is finished, so exception filters are accounted for. The module's own routes are
 * not counted.
 */
@Injectable()
export class RequestMetricsInterceptor implements NestInterceptor {
  /** `undefined` when `httpMetrics` is off: then no family is registered and requests pass through. */
  private readonly instruments;

  constructor(@Inject(RedisMetricsService) private readonly metrics: RedisMetricsService) {
    this.instruments = metrics.countsHttp() ? createInstruments(metrics) : undefined;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const ownRoute = (context.getClass() as unknown as Record<symbol, unknown>)[
      REDIS_METRICS_CONTROLLER
    ];
    const instruments = this.instruments;
    if (context.getType() !== 'http' || ownRoute || !instruments) return next.handle();

    const http = context.switchToHttp();
    const request = http.getRequest<HttpRequest>();
    const response = http.getResponse<HttpResponse>();
    const raw = response.raw ?? response;
    const method = request.method ?? 'UNKNOWN';
    const route = routeTemplate(request);
    const started = process.hrtime.bigint();
    const { requests, failures, duration, inFlight } = instruments;
    inFlight.inc({ method });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight.dec({ method });
      const labels = { method, route, status_code: String(raw.statusCode ?? 0) };
      requests.inc(labels);
      if ((raw.statusCode ?? 0) >= 500) failures.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    raw.once?.('finish', finish);
    raw.once?.('close', finish);
    return next.handle();
  }
}

function createInstruments(metrics: RedisMetricsService) {
  return {
    requests: metrics.counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered',
      labelNames: LABELS,
    }),
    failures: metrics.counter({
      name: 'http_requests_failed_total',
      help: 'HTTP requests answered with a status of 500 or above',
      labelNames: LABELS,
    }),
    duration: metrics.histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to finishing its response',
      labelNames: LABELS,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    inFlight: metrics.gauge({
      name: 'http_requests_in_flight',
      help: 'HTTP requests being handled, over live processes',
      labelNames: ['method'],
      multiprocessMode: 'livesum',
    }),
  };
}

/** The route as declared, with its parameters, from Express or Fastify. */
function routeTemplate(request: HttpRequest): string {
  if (request.routeOptions?.url) return request.routeOptions.url;
  if (request.route?.path) return `${request.baseUrl ?? ''}${request.route.path}`;
  return request.routerPath ?? 'unknown';
}
