/**
 * How far ahead of the store's clock a heartbeat may be and still be one: heartbeats are Redis TIME,
 * read by the same server that reads them back, so one ahead comes only from a clock stepped back (a
 * failover to a node whose clock is a little behind). Further ahead (`+inf`, a year from now) it was
 * written by something else under the prefix: counted live it would never expire, so it counts as
 * stale and is reaped.
 */
export const MAX_HEARTBEAT_AHEAD_MS = 60_000;

/**
 * Whether a heartbeat (ms) cannot be one at the store's time `now` (ms): not a number, or more than
 * {@link MAX_HEARTBEAT_AHEAD_MS} ahead of it.
 */
export function isImpossibleHeartbeat(heartbeat: number, now: number): boolean {
  return Number.isNaN(heartbeat) || heartbeat - now > MAX_HEARTBEAT_AHEAD_MS;
}
