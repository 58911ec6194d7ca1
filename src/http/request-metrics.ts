import type { Counter, Gauge, Histogram } from 'prom-client';

import { RedisMetricsConfigError } from '../errors.js';
import { MetricClashError } from '../metrics/existing-metric.js';
import type { RedisMetricsService } from '../redis-metrics.service.js';

/**
 * The `route` label of every request that matched no route (404s, and answers a middleware gave
 * before routing): one series for all of them whatever the URL, so a scan of the app adds no series.
 */
export const UNMATCHED_ROUTE = '<unmatched>';

/**
 * The status a request is counted with when its client went away before the response was finished
 * (nginx's "client closed request"): not the status the app meant to send, which never arrived.
 */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * The status a request is counted with when the server cut its response short (a stream that failed
 * after the headers were sent, a server timeout): a failure, whatever status the headers said, with
 * the status an unhandled exception gets.
 */
export const SERVER_CUT_SHORT = 500;

type RequestLabel = 'method' | 'route' | 'status_code';
const LABELS: RequestLabel[] = ['method', 'route', 'status_code'];

// Status codes as label values, each made once: a response's status is one of a few hundred numbers.
const statusTexts: string[] = [];
const statusText = (code: number): string => (statusTexts[code] ??= String(code));

/**
 * The metric `make` returns. The registry may already hold its name as another metric, the app's own
 * `http_requests_total` say: the error then says the name is the module's, and how to have both.
 */
function moduleMetric<M>(make: () => M): M {
  try {
    return make();
  } catch (error) {
    if (!(error instanceof MetricClashError)) throw error;
    throw new RedisMetricsConfigError(
      error.setting,
      `is one of the module's HTTP request metrics (a ${error.asked}), but the registry already holds a ${error.exists} of that name, made by the app or another library: give that one another name, or set the option httpMetrics: false to count requests your own way`,
    );
  }
}

/**
 * The four request metrics, by method, route template and status code: `http_requests_total`,
 * `http_requests_failed_total` (status 500 and above), `http_request_duration_seconds` and
 * `http_requests_in_flight` (by method; a `livesum` gauge). The Express and Fastify hooks feed it.
 */
export class RequestMetrics {
  private readonly requests: Counter<RequestLabel>;
  private readonly failures: Counter<RequestLabel>;
  private readonly duration: Histogram<RequestLabel>;
  private readonly inFlight: Gauge<'method'>;

  /**
   * @throws RedisMetricsConfigError when the registry already holds one of the four names as another
   * metric (the app's own `http_requests_total`, say), naming it and the `httpMetrics` option.
   */
  constructor(metrics: RedisMetricsService) {
    this.requests = moduleMetric(() =>
      metrics.counter({
        name: 'http_requests_total',
        help: 'HTTP requests answered',
        labelNames: LABELS,
      }),
    );
    this.failures = moduleMetric(() =>
      metrics.counter({
        name: 'http_requests_failed_total',
        help: 'HTTP requests answered with a status of 500 or above',
        labelNames: LABELS,
      }),
    );
    this.duration = moduleMetric(() =>
      metrics.histogram({
        name: 'http_request_duration_seconds',
        help: 'Time from receiving an HTTP request to finishing its response',
        labelNames: LABELS,
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
    );
    this.inFlight = moduleMetric(() =>
      metrics.gauge({
        name: 'http_requests_in_flight',
        help: 'HTTP requests being handled, over live processes',
        labelNames: ['method'],
        multiprocessMode: 'livesum',
      }),
    );
  }

  /** A request is being handled. */
  started(method: string): void {
    this.inFlight.inc({ method });
  }

  /** A request that {@link started} is no longer being handled, answered or not. */
  stopped(method: string): void {
    this.inFlight.dec({ method });
  }

  /** Counts an answered request; `route` is its template, or {@link UNMATCHED_ROUTE}. */
  answered(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: statusText(statusCode) };
    this.requests.inc(labels);
    if (statusCode >= 500) this.failures.inc(labels);
    this.duration.observe(labels, seconds);
  }

  /**
   * Makes a route's failure series (status 500) exist at 0 before any request fails there, so
   * `rate()` sees the first failure and an error panel shows 0 instead of no data.
   */
  expectRoute(method: string, route: string): void {
    this.failures.inc({ method, route, status_code: statusText(500) }, 0);
  }
}
