import { performance } from 'node:perf_hooks';

import promUtil from 'prom-client/lib/util.js';

/** The gauge modes whose merge picks the value set last. */
export const TIMED_GAUGE_MODES: readonly string[] = ['mostrecent', 'livemostrecent'];

/** Whether a gauge mode orders values by when they were set. */
export function isTimedGaugeMode(mode: string | undefined): boolean {
  return mode !== undefined && TIMED_GAUGE_MODES.includes(mode);
}

/** A prom-client Gauge, as far as its calls are observed here. */
export interface ObservedGauge {
  labelNames: readonly string[];
  sortedLabelNames: readonly string[];
  hashMap: Record<string, { value: number } | undefined>;
  set(...args: unknown[]): void;
  inc(...args: unknown[]): void;
  dec(...args: unknown[]): void;
  reset(): void;
  remove(...args: unknown[]): void;
}

const timesOfGauge = new WeakMap<object, Map<string, number>>();

const isObject = (value: unknown): value is object => value !== null && typeof value === 'object';

/**
 * When each series of a gauge was last set (`set`, `inc`, `dec`, and through them
 * `setToCurrentTime`, `startTimer` and `labels(...)` children made from now on), on the local
 * monotonic clock (`performance.now()`, ms), under prom-client's own key of the series. Comparing
 * values cannot tell "set 5 again" from "still 5", and `mostrecent` must.
 *
 * The gauge's methods are wrapped once (on the instance; every caller shares the same times). A value
 * set before the wrapping is taken as set at the wrapping, except the 0 prom-client gives an unlabelled
 * gauge when it is made, which no call set; `reset()` forgets every time. A series without a time was
 * never set by this process.
 */
export function gaugeCallTimes(gauge: ObservedGauge): ReadonlyMap<string, number> {
  let times = timesOfGauge.get(gauge);
  if (times) return times;
  times = new Map();
  timesOfGauge.set(gauge, times);
  const now = performance.now();
  for (const [key, entry] of Object.entries(gauge.hashMap)) {
    const untouched = key === '' && gauge.labelNames.length === 0 && entry?.value === 0;
    if (!untouched) times.set(key, now);
  }
  wrapCalls(gauge, times);
  return times;
}

function wrapCalls(gauge: ObservedGauge, times: Map<string, number>): void {
  const keyOf = (labels: unknown) =>
    promUtil.hashObject(isObject(labels) ? labels : {}, gauge.sortedLabelNames);
  for (const method of ['set', 'inc', 'dec'] as const) {
    const original = gauge[method];
    gauge[method] = function (this: unknown, ...args: unknown[]): void {
      original.apply(this, args);
      // After the call: a call prom-client refused set nothing.
      times.set(keyOf(args[0]), performance.now());
    };
  }
  const { reset, remove } = gauge;
  gauge.reset = function (this: unknown): void {
    reset.call(this);
    times.clear();
  };
  gauge.remove = function (this: unknown, ...args: unknown[]): void {
    remove.apply(this, args);
    times.delete(keyOf(promUtil.getLabels(gauge.labelNames, args)));
  };
}
