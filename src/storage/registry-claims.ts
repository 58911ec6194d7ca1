import type { Registry, RegistryContentType } from 'prom-client';

/** The key prefixes each registry is being flushed to by a running manager of this process. */
const claims = new WeakMap<Registry<RegistryContentType>, Set<string>>();

/**
 * Claims the flushing of `registry` to `keyPrefix` for one manager of this process. Two managers
 * flushing one registry to one prefix would store every series under two process ids, and a scrape
 * would add them up: each count twice. Returns the release, or `undefined` when the pair is claimed
 * already.
 */
export function claimRegistry(
  registry: Registry<RegistryContentType>,
  keyPrefix: string,
): (() => void) | undefined {
  let prefixes = claims.get(registry);
  if (prefixes === undefined) claims.set(registry, (prefixes = new Set()));
  if (prefixes.has(keyPrefix)) return undefined;
  prefixes.add(keyPrefix);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    prefixes.delete(keyPrefix);
  };
}
