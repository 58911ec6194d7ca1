import { stallAfterMs, type MetricsFlusher } from './storage/metrics-flusher.js';
import type { ProcessIdentity } from './storage/process-identity.js';

/** What the health route reports. Never contains a secret. */
export interface RedisMetricsHealth {
  /**
   * `up`: the last write reached the store in time; `degraded`: storage is configured but the last write
   * failed, or none has been acknowledged for a while (Redis down or slow); `disabled`: not configured.
   */
  status: 'up' | 'degraded' | 'disabled';
  /** This process's id in the store. */
  process: string;
  /** This process's pid (or the `identity` option's), as its per-process gauges are labelled. */
  pid: number;
  /** Milliseconds since the last successful flush, if any. */
  lastFlushAgeMs: number | null;
  /** Processes with a fresh heartbeat, as the store counted them at this process's last write. */
  liveProcesses: number | null;
  /** What is wrong, when degraded: the cause and what to check, never a secret. */
  error?: string;
}

export { stallAfterMs };

/**
 * The health of this process's metrics storage, from what its flusher already knows: it never waits
 * on Redis, so a probe answers at once however slow Redis is.
 */
export function storageHealth(
  flusher: MetricsFlusher | undefined,
  identity: ProcessIdentity,
  flushIntervalMs: number,
  /** Now on the monotonic clock (`performance.now()`, ms), which the flusher's times are on. */
  now = performance.now(),
  /** Why the client last failed to connect, described, when known: named while no write succeeded. */
  connectionError?: string,
): RedisMetricsHealth {
  const lastSuccess = flusher?.lastSuccessTime;
  const base = {
    process: identity.id,
    pid: identity.pid,
    lastFlushAgeMs: lastSuccess === undefined ? null : Math.round(now - lastSuccess),
    liveProcesses: flusher?.liveProcesses ?? null,
  };
  if (!flusher) return { ...base, status: 'disabled', liveProcesses: null };
  const last = flusher.lastResult;
  if (last && !last.ok) {
    return { ...base, status: 'degraded', error: last.error?.message ?? 'the last flush failed' };
  }
  if (lastSuccess === undefined) {
    const waiting = 'no write to the store has succeeded yet';
    return {
      ...base,
      status: 'degraded',
      error: connectionError ? `${waiting}: ${connectionError}` : waiting,
    };
  }
  const quietMs = now - lastSuccess;
  if (quietMs > stallAfterMs(flushIntervalMs)) {
    const running = flusher.runningSince;
    const quiet = `no write acknowledged for ${Math.round(quietMs)} ms`;
    if (running === undefined) return { ...base, status: 'degraded', error: quiet };
    const silence = flusher.silenceCause;
    // A store that is no Redis (an IpcMetricsStore) names what it waits on instead.
    const waited = `${quiet}: a flush has waited ${Math.round(now - running)} ms for ${silence ? 'an answer' : 'Redis'}`;
    return {
      ...base,
      status: 'degraded',
      // A client with an offline queue holds the write while it reconnects: say why.
      error: connectionError
        ? `${waited}: ${connectionError}`
        : `${waited} (${silence ?? 'slow or unreachable'})`,
    };
  }
  return { ...base, status: 'up' };
}
