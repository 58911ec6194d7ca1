import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';

import type { ProcessInfo } from './keys.js';

/**
 * Who is writing. The id combines host name, pid and a random nonce drawn at start, so two containers
 * whose workers both have pid 7, or a pid reused after a restart, never share a key.
 */
export class ProcessIdentity {
  /** Unique id of this process within a prefix: `<hostname>/<pid>/<nonce>`. */
  readonly id: string;

  private constructor(
    /** The host name (the `hostname` label of `all`/`liveall` gauges). */
    readonly hostname: string,
    /** The process id (the `pid` label of `all`/`liveall` gauges). */
    readonly pid: number,
    /** Random hex drawn at start, so a reused host name and pid never give the same id. */
    readonly nonce: string,
    /** When this identity was made, ms since the epoch on the local clock. */
    readonly startedAt: number,
  ) {
    this.id = `${hostname}/${pid}/${nonce}`;
  }

  /**
   * The identity of the running process. `hostname` and `pid` can be given, for example to name a
   * container by its service name; the nonce is always fresh.
   */
  static create(overrides: { hostname?: string; pid?: number } = {}): ProcessIdentity {
    return new ProcessIdentity(
      overrides.hostname ?? osHostname(),
      overrides.pid ?? process.pid,
      randomBytes(6).toString('hex'),
      Date.now(),
    );
  }

  /** What is stored about this process in the process index. */
  info(): ProcessInfo {
    return { pid: this.pid, hostname: this.hostname, startedAt: this.startedAt };
  }
}

/** Reads stored process info; `undefined` when missing or unreadable (it is informational, never an error). */
export function parseProcessInfo(json: string | undefined): ProcessInfo | undefined {
  if (json === undefined) return undefined;
  try {
    const info = JSON.parse(json) as Partial<ProcessInfo>;
    if (typeof info.pid !== 'number' || typeof info.hostname !== 'string') return undefined;
    return { pid: info.pid, hostname: info.hostname, startedAt: Number(info.startedAt ?? 0) };
  } catch {
    return undefined;
  }
}
