/** Metric names Prometheus' text formats accept. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Label names Prometheus accepts; names starting with `__` are reserved for Prometheus itself. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Whether Prometheus would accept this metric name. */
export function validMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Whether Prometheus would accept this label name on a series. */
export function validLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}
