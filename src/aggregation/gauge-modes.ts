import type { GaugeMode } from '../redis-metrics.options.js';
import { GAUGE_MODES } from '../redis-metrics.options.js';

/** How a mode treats processes: one series each, or one series reduced over them. */
export interface ModeRule {
  /** Only processes whose heartbeat is within the liveness window take part. */
  liveOnly: boolean;
  /** One series per process (with `pid` and `hostname` labels), or a reduction. */
  perProcess: boolean;
  /** Reduces the values of one series over processes; absent for per-process modes. */
  reduce?: (values: TimedValue[]) => number;
}

/** A gauge value with the Redis server time at which it was written. */
export interface TimedValue {
  value: number;
  timestamp: number;
}

const max = (values: TimedValue[]) => Math.max(...values.map((v) => v.value));
const min = (values: TimedValue[]) => Math.min(...values.map((v) => v.value));
const sum = (values: TimedValue[]) => values.reduce((total, v) => total + v.value, 0);
/** Whether `a` ranks above `b`: the larger, NaN above every number (as `max` gives NaN when one is). */
const ranksAbove = (a: number, b: number) => a > b || (Number.isNaN(a) && !Number.isNaN(b));
/** The value written last; on a tie, the one that ranks above, so the result does not depend on read order. */
const mostRecent = (values: TimedValue[]) =>
  values.reduce((best, v) =>
    v.timestamp > best.timestamp ||
    (v.timestamp === best.timestamp && ranksAbove(v.value, best.value))
      ? v
      : best,
  ).value;

const RULES: Record<GaugeMode, ModeRule> = {
  all: { liveOnly: false, perProcess: true },
  liveall: { liveOnly: true, perProcess: true },
  // The seed lists `live` without defining it; here it is `liveall` by another name.
  live: { liveOnly: true, perProcess: true },
  max: { liveOnly: false, perProcess: false, reduce: max },
  min: { liveOnly: false, perProcess: false, reduce: min },
  sum: { liveOnly: false, perProcess: false, reduce: sum },
  mostrecent: { liveOnly: false, perProcess: false, reduce: mostRecent },
  livemax: { liveOnly: true, perProcess: false, reduce: max },
  livemin: { liveOnly: true, perProcess: false, reduce: min },
  livesum: { liveOnly: true, perProcess: false, reduce: sum },
  livemostrecent: { liveOnly: true, perProcess: false, reduce: mostRecent },
};

/** The rule of a mode; `undefined` for a mode this module does not know. */
export function gaugeModeRule(mode: string): ModeRule | undefined {
  return (GAUGE_MODES as readonly string[]).includes(mode) ? RULES[mode as GaugeMode] : undefined;
}
