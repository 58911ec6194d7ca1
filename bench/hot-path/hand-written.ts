// The baseline the module's request metrics are held against: what an app would write by hand with
// prom-client's README open. One Express middleware counting the same four metrics with the same
// labels, plus prom-client's default metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { collectDefaultMetrics, Counter, Gauge, Histogram } from 'prom-client';

const labelNames = ['method', 'route', 'status_code'];

/** The middleware; `app.use()` it before the routes are registered. */
export function handWrittenRequestMetrics() {
  collectDefaultMetrics();
  const requests = new Counter({ name: 'http_requests_total', help: 'Requests', labelNames });
  const failures = new Counter({
    name: 'http_requests_failed_total',
    help: 'Failures',
    labelNames,
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Duration',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const inFlight = new Gauge({
    name: 'http_requests_in_flight',
    help: 'In flight',
    labelNames: ['method'],
  });

  return (
    req: IncomingMessage & { baseUrl?: string; route?: { path: unknown } },
    res: ServerResponse,
    next: () => void,
  ): void => {
    const started = performance.now();
    const method = req.method ?? '';
    inFlight.inc({ method });
    res.on('close', () => {
      inFlight.dec({ method });
      const route = req.route ? `${req.baseUrl ?? ''}${String(req.route.path)}` : '<unmatched>';
      const labels = { method, route, status_code: String(res.statusCode) };
      requests.inc(labels);
      if (res.statusCode >= 500) failures.inc(labels);
      duration.observe(labels, (performance.now() - started) / 1000);
    });
    next();
  };
}
