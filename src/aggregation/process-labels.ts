import type { Labels } from '../storage/keys.js';

/** The labels a per-process gauge series (modes `all`, `liveall`, `live`) gets from its process. */
const PROCESS_LABEL_NAMES: readonly string[] = ['pid', 'hostname'];

/**
 * A series' labels with its process's `pid` and `hostname` added. An app label of either name is kept
 * as `exported_<name>` (prefixed again while the app has that name too), as Prometheus keeps a scraped
 * label that clashes with a target label: overwriting it would put two of the app's series on one label
 * set, and one of them would be lost.
 */
export function withProcessLabels(labels: Labels, pid: string, hostname: string): Labels {
  const names = new Set(Object.keys(labels));
  const entries: [string, string][] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!PROCESS_LABEL_NAMES.includes(name)) entries.push([name, value]);
  }
  for (const name of PROCESS_LABEL_NAMES) {
    if (!Object.hasOwn(labels, name)) continue;
    let kept = `exported_${name}`;
    while (names.has(kept)) kept = `exported_${kept}`;
    names.add(kept);
    entries.push([kept, labels[name]]);
  }
  entries.push(['pid', pid], ['hostname', hostname]);
  // fromEntries defines each name as the object's own, whatever it is.
  return Object.fromEntries(entries);
}
