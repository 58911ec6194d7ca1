import type { Registry, RegistryContentType } from 'prom-client';

/** How many running managers of this process flush each registry to each key prefix. */
const claims = new WeakMap<Registry<RegistryContentType>, Map<string, number>>();

/** A manager's claim on flushing a registry to a prefix. */
export interface RegistryClaim {
  /** Whether another manager of this process was flushing the pair already. */
  shared: boolean;
  /** Gives the claim up (once; later calls do nothing). */
  release: () => void;
}

/**
 * Claims the flushing of `registry` to `keyPrefix` for one manager of this process. Two managers
 * flushing one registry to one prefix store every series under two process ids, and a scrape adds
 * them up: each count twice. The claim tells the second one so.
 */
export function claimRegistry(
  registry: Registry<RegistryContentType>,
  keyPrefix: string,
): RegistryClaim {
  let prefixes = claims.get(registry);
  if (prefixes === undefined) claims.set(registry, (prefixes = new Map()));
  const holders = prefixes.get(keyPrefix) ?? 0;
  prefixes.set(keyPrefix, holders + 1);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    const left = (prefixes.get(keyPrefix) ?? 1) - 1;
    if (left === 0) prefixes.delete(keyPrefix);
    else prefixes.set(keyPrefix, left);
  };
  return { shared: holders > 0, release };
}
