import { randomBytes } from 'node:crypto';

/** A W3C `traceparent` header: version, trace id, parent span id, flags. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace id of a request: the one its `traceparent` header carries (what a tracing proxy or
 * OpenTelemetry sends), or a new one when there is none, so every observation can point at a trace.
 */
export function traceIdOf(traceparent: string | undefined): string {
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim());
  return match && !/^0+$/.test(match[1]) ? match[1] : randomBytes(16).toString('hex');
}
