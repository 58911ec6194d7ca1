import { Redis, type Command, type RedisOptions } from 'ioredis';

import { explainRedisError, nameSettings, namedSettingsOf } from './describe-redis-error.js';
import type { RedisMetricsOptions } from '../redis-metrics.options.js';
import type { SettingNames } from '../setting-names.js';
import { tlsConnectionOptions } from '../tls-files.js';
import { connectionHistory, trackConnectionHistory } from './connection-history.js';

/**
 * A Redis client whose failed commands say why: when a command fails because the connection is down,
 * it rejects with an error naming the real cause (see `describeRedisError`) rather than ioredis'
 * "Stream isn't writeable and enableOfflineQueue options is false".
 */
class ExplainingRedis extends Redis {
  /** Commands sent and not answered yet. */
  private readonly unanswered = new Set<Command>();
  /** Whether `disconnect()` closed it for good (not a QUIT, which ends only the master's connection). */
  closedForGood = false;

  /** Every connection, the first included (ioredis' constructor connects unless lazy). */
  override connect(callback?: () => void): Promise<void> {
    guardSockets(this);
    return super.connect(callback);
  }

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    const [command] = args;
    const reply = super.sendCommand(...args);
    if (!(reply instanceof Promise)) return reply;
    this.unanswered.add(command);
    const explained = reply.then(
      (value: unknown) => {
        this.unanswered.delete(command);
        return value;
      },
      (error: unknown) => {
        this.unanswered.delete(command);
        // Also hides a failed HELLO's password, before the error is emitted as an 'error' event.
        throw explainRedisError(error, this);
      },
    );
    // ioredis' own callers (pipelines) read the command's promise and drop this one: it must not
    // become an unhandled rejection there.
    explained.catch(() => undefined);
    return explained;
  }

  /**
   * A copy made the same way (a subscriber connection, say), so it, too, names causes and ends its
   * commands when closed.
   */
  override duplicate(override?: Partial<RedisOptions>): Redis {
    const copy = new ExplainingRedis({ ...this.options, ...override } as ExplainingRedisOptions);
    return prepare(copy, namedSettingsOf(this));
  }

  /**
   * Closing for good also ends the commands ioredis keeps to resend on the next connection (those of a
   * connection that broke before it was ready): their command timeout would hold the process open for
   * up to 5 s after the app closed.
   */
  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedForGood = true;
    super.disconnect(reconnect);
    if (reconnect) return;
    for (const command of this.unanswered) command.reject(new Error('Connection is closed.'));
    this.unanswered.clear();
  }
}

type ExplainingRedisOptions = Omit<RedisOptions, 'replyMapping'>;

const guarded = new WeakSet<object>();

/** What of ioredis' private connector a client's sockets are guarded through. */
interface Connector {
  connect(...args: unknown[]): Promise<{ on(event: 'error', listener: () => void): unknown }>;
  /** A Sentinel client's: makes a client for one sentinel (ioredis 6). */
  connectToSentinel?(endpoint: unknown, options?: RedisOptions): Redis;
}

/** A client's private connector (ioredis keeps it in `connector`). */
function connectorOf(client: Redis): Connector | undefined {
  return (client as unknown as { connector?: Connector }).connector;
}

/**
 * ioredis listens to each socket's 'error' with `once`, and a TLS socket can fail twice (a failed
 * handshake, then the server's alert or the hang-up: ioredis#961, never merged). The second error would
 * have no listener and crash the process. ioredis has handled the first: later ones are ignored.
 */
function guardSockets(client: Redis): void {
  const connector = connectorOf(client);
  if (typeof connector?.connect !== 'function' || guarded.has(connector)) return;
  guarded.add(connector);
  const connect = connector.connect.bind(connector);
  connector.connect = async (...args) => {
    const socket = await connect(...args);
    socket.on('error', () => undefined);
    return socket;
  };
}

/**
 * ioredis gives its connections to the sentinels (the one that asks for the master's address, and the
 * failover detector's) its default disconnectTimeout of 2 s, whatever the client's: a connection that
 * had already closed (refused, or closed twice) when it was told to close arms a timer nothing clears,
 * which keeps the process alive 2 s after the app closed. They get the client's own instead.
 *
 * ioredis gives the failover detector's connections no 'error' listener, so each try to reach a
 * sentinel that is down printed "[ioredis] Unhandled error event" and a stack trace on stderr: with
 * the detector's short `sentinelReconnectStrategy`, one per sentinel every 2 s for as long as it is
 * gone. Their errors are ignored: the client's own connection and the flushes report what matters.
 */
function prepareSentinelConnections(client: Redis): void {
  const connector = connectorOf(client);
  const connectToSentinel = connector?.connectToSentinel?.bind(connector);
  if (!connector || !connectToSentinel) return;
  const { disconnectTimeout } = client.options;
  connector.connectToSentinel = (endpoint, options) => {
    const sentinel = connectToSentinel(endpoint, { disconnectTimeout, ...options });
    sentinel.on('error', () => undefined);
    return sentinel;
  };
}

/** A SELECT of a database the server lacks (its `databases` setting, 16 by default). */
const MISSING_DATABASE = /DB index is out of range|invalid DB index/i;

/**
 * Starts keeping a new client's connection history and the names its hints give its settings; makes
 * a Sentinel client close fully, and one whose database the server lacks close at once.
 */
function prepare(client: ExplainingRedis, names: SettingNames | undefined): Redis {
  trackConnectionHistory(client);
  nameSettings(client, names);
  client.on('error', (error: Error) => {
    if (!MISSING_DATABASE.test(error.message)) return;
    // ioredis reports the failed SELECT and goes on, ready, in database 0, where another app's keys
    // may be: closed, nothing is written there, and every flush names the cause.
    connectionHistory(client)!.closedBecause = error;
    client.disconnect();
  });
  if (client.options.sentinels) {
    prepareSentinelConnections(client);
    // ioredis' QUIT ends the connection to the master but not the failover detector's subscriptions
    // to the sentinels, which would keep the process alive after the app closed (ioredis#1362). Not
    // after disconnect(), which ended them: closing them twice leaves a 2 s timer per sentinel.
    client.on('end', () => {
      if (!client.closedForGood) client.disconnect();
    });
  }
  return client;
}

/** How long the module's own client waits for a command's answer. */
export const COMMAND_TIMEOUT_MS = 5000;

/**
 * A client for the module's own use: a single server (host and port, or a URL), or the master named by
 * `sentinelMaster` behind `sentinels`, with TLS files when TLS is on.
 *
 * Commands fail fast while Redis is away (no offline queue), so a flush reports the trouble at once
 * instead of piling up; the client keeps reconnecting in the background, and the flusher resynchronises
 * when it is back. A failed command names the real cause (wrong password, untrusted certificate,
 * refused connection, ...), and its hint names the settings as `names` says the user set them
 * (without them, the environment variables). Behind Sentinel, ioredis' failover detector listens for `+switch-master`
 * so the client moves to a new master at once, not when the old one is demoted.
 */
export function createRedisClient(options: RedisMetricsOptions, names?: SettingNames): Redis {
  const common: ExplainingRedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // A socket that never connected closes at once on shutdown instead of after ioredis' 2 s default.
    disconnectTimeout: 200,
    tls: options.ssl ? tlsConnectionOptions(options) : undefined,
  };
  if (options.sentinels) {
    return prepare(
      new ExplainingRedis({
        ...common,
        sentinels: options.sentinels,
        name: options.sentinelMaster,
        sentinelPassword: options.sentinelPassword,
        failoverDetector: true,
        // The failover detector's connections to the sentinels: ioredis tries them again after a
        // minute, so a failover in the minute after the sentinels restarted went unheard.
        sentinelReconnectStrategy: (attempt: number) => Math.min(attempt * 200, 2000),
        enableTLSForSentinelMode: options.ssl,
        db: options.db,
        username: options.username,
        password: options.password,
      }),
      names,
    );
  }
  if (options.url) return prepare(new ExplainingRedis(options.url, common), names);
  return prepare(
    new ExplainingRedis({
      ...common,
      host: options.host,
      port: options.port,
      db: options.db,
      username: options.username,
      password: options.password,
    }),
    names,
  );
}
