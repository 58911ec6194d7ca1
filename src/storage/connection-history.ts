import type { Cluster, Redis } from 'ioredis';

/**
 * What a client went through while connecting, for naming the cause of a failed command. ioredis
 * reports the cause (a refused connection, WRONGPASS, a TLS failure) only on its 'error' event; a
 * command sent meanwhile fails with a generic "Stream isn't writeable" or "Connection is closed".
 */
export interface ConnectionHistory {
  /** The last 'error' event since the client was last ready. */
  lastError?: Error;
  /**
   * Whether that error came after the socket had connected and before the connection was ready (the
   * server took the connection, then hung up before serving it: a TLS port, a client certificate
   * required). An error on a connection that had been ready is a connection lost, not that.
   */
  lastErrorAfterConnect: boolean;
  /** The last error a sentinel gave while the client looked for the master, if any. */
  lastSentinelError?: Error;
  /** `host:port` of the server the client last connected to (the master, behind Sentinel). */
  lastAddress?: string;
  /** Whether the current connection attempt reached the server. */
  connected: boolean;
  /** Whether the current connection became ready (served commands). */
  ready: boolean;
  /**
   * Whether the server's first words on a connection since the client was last ready were Redis's
   * refusal of a client over its `maxclients` (`-ERR max number of clients reached`), sent before it
   * closes the connection. ioredis reports only the closed socket (EPIPE or ECONNRESET), which reads
   * like a TLS port, and often before the refusal is read (then it is lost): so this stays true over
   * the attempts that follow, until a connection's first words are something else or it is ready.
   */
  refusedAtMaxClients: boolean;
  /**
   * An error after which the module closed its client for good, as reconnecting cannot mend it (the
   * server has no database of the number asked for).
   */
  closedBecause?: Error;
}

const histories = new WeakMap<object, ConnectionHistory>();

/** What Redis writes to a connection it refuses because it has `maxclients` clients already. */
const MAX_CLIENTS_REFUSAL = '-ERR max number of clients reached';

/** What ioredis rejects the commands of a connection with when it closes, whatever the cause. */
const GAVE_UP_COMMANDS = /^Reached the max retries per request limit|^Connection is closed/;

/**
 * Starts keeping the {@link ConnectionHistory} of a client. Adds an 'error' listener, which also keeps
 * ioredis from printing every failed reconnection to the console.
 */
export function trackConnectionHistory(client: Redis | Cluster): void {
  if (histories.has(client)) return;
  const history: ConnectionHistory = {
    lastErrorAfterConnect: false,
    connected: false,
    ready: false,
    refusedAtMaxClients: false,
  };
  histories.set(client, history);
  client.on('connect', () => {
    history.connected = true;
    history.ready = false;
    // A Cluster client has no stream of its own: its nodes' addresses are named by their errors.
    const stream = (client as { stream?: ClientStream }).stream;
    if (stream?.remoteAddress && stream.remotePort) {
      history.lastAddress = formatAddress(stream.remoteAddress, stream.remotePort);
    }
    // The server's first words only, read alongside ioredis: a refusal at maxclients comes before
    // any answer, and ioredis reports the connection closed after it, not the refusal.
    if (typeof stream?.once === 'function') {
      stream.once('data', (chunk: Buffer | string) => {
        history.refusedAtMaxClients = String(chunk).startsWith(MAX_CLIENTS_REFUSAL);
      });
    }
  });
  client.on('ready', () => {
    history.ready = true;
    history.refusedAtMaxClients = false;
    history.lastError = undefined;
    history.lastSentinelError = undefined;
  });
  client.on('reconnecting', () => {
    history.connected = false;
    history.ready = false;
  });
  client.on('error', (error: Error) => {
    // ioredis 5 emits the error it rejected a connection's own commands with (AUTH, the ready check)
    // when it gave them up as the connection closed: a consequence, never the cause it would replace.
    if (GAVE_UP_COMMANDS.test(error.message)) return;
    history.lastError = error;
    history.lastErrorAfterConnect = history.connected && !history.ready;
  });
  client.on('sentinelError', (error: Error) => {
    history.lastSentinelError = error;
  });
}

/** The history of a client tracked by {@link trackConnectionHistory}; undefined for any other. */
export function connectionHistory(client: object): ConnectionHistory | undefined {
  return histories.get(client);
}

/** What the history reads of a client's socket. */
interface ClientStream {
  remoteAddress?: string;
  remotePort?: number;
  once?: (event: 'data', listener: (chunk: Buffer | string) => void) => unknown;
}

/** `host:port`, with an IPv6 host in brackets. */
export function formatAddress(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
