// prom-client's own helpers (lib/util.js, not part of its typed API): the key under which a metric
// keeps a series, and how a method turns its arguments into labels.
declare module 'prom-client/lib/util.js' {
  const util: {
    hashObject(labels: object, labelNames?: readonly string[]): string;
    getLabels(labelNames: readonly string[], args: unknown[]): Record<string, unknown>;
  };
  export default util;
}
