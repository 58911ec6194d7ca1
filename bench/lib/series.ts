import { Counter, Registry } from 'prom-client';

/**
 * The label names of the benchmark's series: an HTTP request counter, as apps have. In alphabetical
 * order, the order this module writes them in, so the same line can be looked for in both outputs.
 */
export const SERIES_LABELS = ['method', 'route', 'series', 'status'] as const;

/** The value series `i` of a worker holds: small integers, so sums are exact. */
export const seriesValue = (i: number): number => (i % 7) + 1;

/** The labels of series `i`. */
export const seriesLabels = (
  i: number | string,
): Record<(typeof SERIES_LABELS)[number], string> => ({
  method: 'GET',
  route: '/items/:id',
  series: String(i),
  status: '200',
});

/** Gives `counter` `count` series from number `offset` on, series `i` at {@link seriesValue}(i). */
export function fillCounter(
  counter: Counter<(typeof SERIES_LABELS)[number]>,
  count: number,
  offset = 0,
): void {
  for (let i = offset; i < offset + count; i += 1) {
    counter.inc(seriesLabels(i), seriesValue(i));
  }
}

/** The exposition line of series `i` (labels in the order prom-client writes them). */
export const seriesLine = (name: string, i: number, value: number): string =>
  `${name}{method="GET",route="/items/:id",series="${i}",status="200"} ${value}`;

/**
 * A registry of its own holding one request counter with `count` series (see {@link fillCounter}): what
 * the flush benchmarks write.
 */
export function filledRegistry(count: number): {
  registry: Registry;
  counter: Counter<(typeof SERIES_LABELS)[number]>;
} {
  const registry = new Registry();
  const counter = new Counter({
    name: 'bench_requests_total',
    help: 'Requests, by series',
    labelNames: SERIES_LABELS,
    registers: [registry],
  });
  fillCounter(counter, count);
  return { registry, counter };
}
