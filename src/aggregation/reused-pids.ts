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
 *   `identity` option naming replicas by their service) both count in a reducing mode, and so does a
 *   process whose info is missing. Per-process modes leave it out, as they cannot serve two series of
 *   one label set.
 */
export function latestOfEachPid(
  gauges: readonly SourcedGauge[],
  live?: ReadonlySet<string>,
): SourcedGauge[] {
  // The processes by host name and pid (JSON, so no host name runs into its pid). Almost always one
  // each: then nothing is replaced, and no series costs anything more.
  const slotOf = new Map<ProcessRecord, string>();
  const processesIn = new Map<string, number>();
  for (const { process } of gauges) {
    if (slotOf.has(process)) continue;
    // Without its info a process's pid is unknown, not reused: in a reducing mode it counts on its
    // own. A per-process mode can show only one series of the placeholder labels, the newest.
    const slot =
      process.infoMissing && live
        ? JSON.stringify([process.id])
        : JSON.stringify([process.hostname, process.pid]);
    slotOf.set(process, slot);
    processesIn.set(slot, (processesIn.get(slot) ?? 0) + 1);
  }
  const shared = (gauge: SourcedGauge) => processesIn.get(slotOf.get(gauge.process)!)! > 1;
  if (!gauges.some(shared)) return [...gauges];

  // Slot -> series key -> the gauge of the latest heartbeat (keys kept as they are: no new strings).
  const newest = new Map<string, Map<string, SourcedGauge>>();
  const newestOf = (gauge: SourcedGauge) => {
    const slot = slotOf.get(gauge.process)!;
    let bySeries = newest.get(slot);
    if (!bySeries) newest.set(slot, (bySeries = new Map()));
    return bySeries;
  };
  for (const gauge of gauges) {
    if (!shared(gauge)) continue;
    const bySeries = newestOf(gauge);
    const held = bySeries.get(gauge.series.key);
    if (!held || held.process.heartbeat < gauge.process.heartbeat) {
      bySeries.set(gauge.series.key, gauge);
    }
  }
  return gauges.filter(
    (gauge) =>
      !shared(gauge) ||
      newestOf(gauge).get(gauge.series.key) === gauge ||
      live?.has(gauge.process.id) === true,
  );
}
