import { gaugeModeRule } from './gauge-modes.js';
import type { DeclaredMode, PrefixData } from './prefix-data.js';

interface Choice extends DeclaredMode {
  live: boolean;
  processId: string;
}

/**
 * The mode to merge each gauge in, by metric name, from the modes its writers declared: a live
 * process's before one that is not, then the newest declaration (the process id breaks a tie, so the
 * answer does not depend on read order). The shared metadata holds only the last declaration, which
 * would outlive the process that made it: a canary in another mode that ended would keep its mode on
 * the processes still running.
 *
 * A gauge is left out, and its metadata's mode applies, when no process declared a mode this version
 * knows for it (its writers are of a version that did not declare), and when no live process declared
 * one but a live process writes it without declaring: those live writers of an older version wrote the
 * metadata, a killed process's declaration is older news.
 */
export function declaredGaugeModes(data: PrefixData, live: Set<string>): Map<string, string> {
  const chosen = new Map<string, Choice>();
  for (const process of data.processes) {
    const isLive = live.has(process.id);
    for (const [metricName, declared] of data.gaugeModes?.get(process.id) ?? []) {
      // A mode of a newer version this one cannot merge in does not hide the others.
      if (!gaugeModeRule(declared.mode)) continue;
      const candidate = { ...declared, live: isLive, processId: process.id };
      const current = chosen.get(metricName);
      if (!current || preferred(candidate, current)) chosen.set(metricName, candidate);
    }
  }
  const undeclaredLive = liveUndeclaredWriters(data, live);
  const modes = new Map<string, string>();
  for (const [metricName, choice] of chosen) {
    if (choice.live || !undeclaredLive.has(metricName)) modes.set(metricName, choice.mode);
  }
  return modes;
}

function preferred(a: Choice, b: Choice): boolean {
  if (a.live !== b.live) return a.live;
  if (a.at !== b.at) return a.at > b.at;
  return a.processId > b.processId;
}

/** The gauges that a live process writes without declaring a mode for them. */
function liveUndeclaredWriters(data: PrefixData, live: Set<string>): Set<string> {
  const names = new Set<string>();
  for (const process of data.processes) {
    if (!live.has(process.id)) continue;
    const declared = data.gaugeModes?.get(process.id);
    for (const series of data.gauges.get(process.id) ?? []) {
      if (!declared?.has(series.metricName)) names.add(series.metricName);
    }
  }
  return names;
}
