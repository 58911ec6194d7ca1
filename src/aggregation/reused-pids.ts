import type { GaugeSeries, ProcessRecord } from './prefix-data.js';

/** One gauge series of one process. */
export interface SourcedGauge {
  series: GaugeSeries;
  process: ProcessRecord;
}

/**
 * The gauge series that count when a pid was reused on one host (a restarted container): of the
 * processes with the same pid and hostname, each series is the one of the process with the latest
 * heartbeat. Python's client writes a reused pid's values into the file of the process it replaced,
 * so the old value is gone from every mode (`sum`, `max`, ... as well as `all`), while a series only
 * the old process had stays. Without this, a restarted container's old value stayed in `sum`, `max`
 * and `min` until its process was reaped.
 *
 * @param live when given, a live process is never replaced: two live processes named alike (the
 *   `identity` option naming replicas by their service) both count in a reducing mode. Per-process
 *   modes leave it out, as they cannot serve two series of one label set.
 */
export function latestOfEachPid(
  gauges: readonly SourcedGauge[],
  live?: ReadonlySet<string>,
): SourcedGauge[] {
  const slotOf = ({ series, process }: SourcedGauge) =>
    JSON.stringify([process.hostname, process.pid, series.key]);
  const newest = new Map<string, SourcedGauge>();
  for (const gauge of gauges) {
    const slot = slotOf(gauge);
    const held = newest.get(slot);
    if (!held || held.process.heartbeat < gauge.process.heartbeat) newest.set(slot, gauge);
  }
  return gauges.filter(
    (gauge) => newest.get(slotOf(gauge)) === gauge || live?.has(gauge.process.id) === true,
  );
}
