import { labelsKey, type MetricFamily, type MetricSample } from './metric-family.js';

const TOTAL = '_total';

/** A counter's family name in OpenMetrics: its name without `_total`, which its samples get back. */
function familyNameOf(family: MetricFamily): string {
  return family.type === 'counter' && family.name.endsWith(TOTAL)
    ? family.name.slice(0, -TOTAL.length)
    : family.name;
}

/**
 * The families as OpenMetrics can carry them. There a counter `a` and a counter `a_total` are one
 * family, `a`, whose samples are `a_total`: served as two, the scrape repeats `# TYPE a counter`, which
 * OpenMetrics does not allow, and Prometheus keeps the first `a_total` of each label set and drops the
 * other as a duplicate, so it stores one counter's count, not their sum (its target stays up, without
 * a word). Under storage shared by many processes that happens when a counter is renamed to end in
 * `_total` between two versions, and lasts, since the totals keep the old name's counts. Such counters
 * are served as one family, each series the sum of both (the renamed counter goes on from where it
 * was), with the help text and the later exemplar of the `_total` one first.
 *
 * A counter whose OpenMetrics family is named like a family of another type (counter `a_total` beside
 * gauge `a`) is served as prom-client serves it: that is not valid OpenMetrics either, but Prometheus
 * stores both, and leaving one out would lose a metric that plain prom-client serves.
 */
export function openMetricsFamilies(families: MetricFamily[]): MetricFamily[] {
  const counters = new Map<string, MetricFamily[]>();
  const served: (MetricFamily | string)[] = [];
  for (const family of families) {
    if (family.type !== 'counter') {
      served.push(family);
      continue;
    }
    const name = familyNameOf(family);
    const group = counters.get(name);
    if (group) group.push(family);
    else {
      counters.set(name, [family]);
      served.push(name);
    }
  }
  return served.map((entry) =>
    typeof entry === 'string' ? oneCounter(entry, counters.get(entry)!) : entry,
  );
}

/** One counter family from the counters OpenMetrics names `name` (one, or `name` and `name_total`). */
function oneCounter(name: string, group: MetricFamily[]): MetricFamily {
  if (group.length === 1) return group[0];
  // The `_total` one first: its help text is kept, and its exemplar on a tie.
  const ordered = [...group].sort(
    (a, b) => Number(b.name.endsWith(TOTAL)) - Number(a.name.endsWith(TOTAL)),
  );
  const merged = name + TOTAL;
  const samples = new Map<string, MetricSample>();
  for (const family of ordered) {
    for (const sample of family.samples) {
      const key = labelsKey(sample.labels);
      const kept = samples.get(key);
      if (!kept) {
        samples.set(key, { ...sample, name: merged });
        continue;
      }
      kept.value += sample.value;
      if (
        sample.exemplar &&
        (!kept.exemplar || sample.exemplar.timestamp > kept.exemplar.timestamp)
      ) {
        kept.exemplar = sample.exemplar;
      }
    }
  }
  return {
    name: merged,
    help: ordered[0].help,
    type: 'counter',
    samples: [...samples.values()].sort((a, b) =>
      compare(labelsKey(a.labels), labelsKey(b.labels)),
    ),
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
