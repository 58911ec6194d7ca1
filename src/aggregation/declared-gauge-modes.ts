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
 * the processes still running. A gauge no process declared a known mode for (written by a version
 * that did not declare) is left out; its metadata's mode applies.
 */
export function declaredGaugeModes(data: PrefixData, live: Set<string>): Map<string, string> {
  const chosen = new Map<string, Choice>();
  for (const process of data.processes) {
    const isLive = live.has(process.id);
    for (const [metricName, declared] of data.gaugeModes.get(process.id) ?? []) {
      // A mode of a newer version this one cannot merge in does not hide the others.
      if (!gaugeModeRule(declared.mode)) continue;
      const candidate = { ...declared, live: isLive, processId: process.id };
      const current = chosen.get(metricName);
      if (!current || preferred(candidate, current)) chosen.set(metricName, candidate);
    }
  }
  return new Map([...chosen].map(([metricName, choice]) => [metricName, choice.mode]));
}

function preferred(a: Choice, b: Choice): boolean {
  if (a.live !== b.live) return a.live;
  if (a.at !== b.at) return a.at > b.at;
  return a.processId > b.processId;
}
