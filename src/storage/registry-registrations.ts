import type { Metric, Registry } from 'prom-client';

/** Called with every metric registered in a registry, while prom-client registers it. */
export type RegistrationListener = (metric: Metric) => void;

const listenersOf = new WeakMap<Registry, Set<RegistrationListener>>();

/**
 * Hears every metric registered in `registry` from now on, `new Gauge({ registers: [registry] })`
 * included: prom-client calls `registerMetric` from the metric's constructor, before the app can use
 * the metric. `registerMetric` is wrapped once per registry; the listener runs after it (a refused
 * registration is not heard) and is removed by the returned function.
 *
 * The metric is not complete yet when it is heard: a subclass's constructor (Gauge's sets `type`) has
 * not finished. Tell its class with `instanceof`.
 */
export function onRegistration(registry: Registry, listener: RegistrationListener): () => void {
  let listeners = listenersOf.get(registry);
  if (!listeners) {
    const known = (listeners = new Set());
    listenersOf.set(registry, listeners);
    const register = registry.registerMetric;
    registry.registerMetric = function (this: Registry, metric: Metric): void {
      register.call(this, metric);
      for (const listen of known) listen(metric);
    };
  }
  listeners.add(listener);
  const set = listeners;
  return () => void set.delete(listener);
}
