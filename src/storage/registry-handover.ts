import type { Registry, RegistryContentType } from 'prom-client';

/**
 * What a manager that stopped flushing a registry had delivered to a store, kept for the next manager
 * of this process that flushes the same registry to the same place.
 *
 * An app closed and started again in one process (an app per test, an in-process restart) keeps its
 * registry and so its counts: a counter at 1 goes on to 2. The new manager writes under a new process
 * id, whose previous values the store does not know, so without this it would count the 1 a second
 * time (totals 3 for a counter at 2). With it, the new flusher first records these values as its
 * previous ones, counting nothing, and counts only what came since.
 */
const delivered = new WeakMap<
  Registry<RegistryContentType>,
  Map<string, ReadonlyMap<string, string>>
>();

/**
 * Keeps what a stopped manager's flusher had delivered (counter-like field -> packed absolute value)
 * to the store at `place` (a description of the store's location and key prefix).
 */
export function leaveDelivered(
  registry: Registry<RegistryContentType>,
  place: string,
  values: ReadonlyMap<string, string>,
): void {
  let places = delivered.get(registry);
  if (places === undefined) delivered.set(registry, (places = new Map()));
  places.set(place, values);
}

/** Takes (once) what an earlier manager of this process delivered of `registry` to `place`. */
export function takeDelivered(
  registry: Registry<RegistryContentType>,
  place: string,
): ReadonlyMap<string, string> | undefined {
  const places = delivered.get(registry);
  const values = places?.get(place);
  places?.delete(place);
  return values;
}

const objectNumbers = new WeakMap<object, number>();
let lastObjectNumber = 0;

/** A name for one object (a client or store of the user's), the same as long as the object lives. */
export function placeOfObject(object: object): string {
  let number = objectNumbers.get(object);
  if (number === undefined) objectNumbers.set(object, (number = lastObjectNumber += 1));
  return `object ${number}`;
}
