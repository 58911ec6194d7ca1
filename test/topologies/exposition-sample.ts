/**
 * The value of one series in a Prometheus text exposition, or undefined when it is not there.
 * `labels` is the label set as written, e.g. `{shop="north"}`; leave it out for a series without labels.
 */
export function sampleValue(exposition: string, name: string, labels = ''): number | undefined {
  const line = exposition
    .split('\n')
    .find((candidate) => candidate.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(name.length + labels.length + 1));
}
