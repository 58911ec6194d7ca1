import { CLIENT_CLOSED_REQUEST, SERVER_CUT_SHORT } from './request-metrics.js';

/** What is read of the connection a response went out on (a `net.Socket`). */
export interface Connection {
  /** Whether the client's end of the connection arrived. */
  readableEnded: boolean;
  /** The error the connection failed with, if it did. */
  errored?: { code?: unknown } | null;
}

// The errors of a connection the client closed: it reset it, or had closed it when the server wrote.
const CLOSED_BY_CLIENT = new Set<unknown>(['ECONNRESET', 'EPIPE']);

/**
 * The status of a response that closed before it was finished: {@link CLIENT_CLOSED_REQUEST} when
 * the client closed the connection first, {@link SERVER_CUT_SHORT} when the server did. Node tells
 * them apart by the connection alone: a client that goes away ends it or resets it, a server that
 * cuts a response short destroys it with neither (Nest's and Fastify's answer to a stream that fails
 * after the headers were sent, or Node's own timeouts).
 */
export function unfinishedStatus(connection: Connection | null | undefined): number {
  // No connection to read (not a Node socket): counted as before, as a client that went away.
  if (!connection) return CLIENT_CLOSED_REQUEST;
  const closedByClient = connection.readableEnded || CLOSED_BY_CLIENT.has(connection.errored?.code);
  return closedByClient ? CLIENT_CLOSED_REQUEST : SERVER_CUT_SHORT;
}
