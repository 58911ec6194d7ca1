/**
 * Why the primary replaced a worker, as a bounded label: the usual signals, a clean exit, an exit with an
 * error code, or anything else. Every reason exists at 0 from the start, so `increase()` sees the first
 * restart and the dashboard's panel has data on a fresh run.
 */
export const RESTART_REASONS = [
  'SIGKILL',
  'SIGTERM',
  'SIGINT',
  'SIGSEGV',
  'SIGABRT',
  'exit_0',
  'exit_error',
  'other',
] as const;

export type RestartReason = (typeof RESTART_REASONS)[number];

/** The reason label of a worker that ended with this exit code or signal. */
export function restartReason(code: number | null, signal: string | null): RestartReason {
  if (signal !== null) {
    return (RESTART_REASONS as readonly string[]).includes(signal)
      ? (signal as RestartReason)
      : 'other';
  }
  if (code === 0) return 'exit_0';
  return code === null ? 'other' : 'exit_error';
}
