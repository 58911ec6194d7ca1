import { types } from 'node:util';
import type { Cluster, Redis } from 'ioredis';

import { hideCommandCredentials } from '../command-credentials.js';
import {
  RedisAuthenticationError,
  RedisConnectionError,
  RedisTimeoutError,
  type RedisMetricsRedisError,
} from '../errors.js';
import type { SettingNames } from '../setting-names.js';
import { connectionHistory, formatAddress } from './connection-history.js';
import { SCRIPT_COMMANDS } from './lua-scripts.js';

/** What ioredis says when a command fails because the client is not connected, whatever the cause. */
const NOT_CONNECTED =
  /Stream isn't writeable|Connection is closed|Reached the max retries per request limit|Command aborted due to connection close/;

/** A Cluster client that no node answered. */
const NO_CLUSTER_NODE =
  'Redis Cluster: no node answered to tell which master serves which slot (check the addresses given to the Cluster client; nodes that speak TLS need its redisOptions.tls)';

/**
 * A Cluster client that gave up on redirections among nodes that answer: during a migration of the
 * prefix's slot, a script whose keys are partly moved is sent back and forth (ASK to the importing
 * node, TRYAGAIN there, MOVED from the others) until the migration ends.
 */
const SLOT_MIGRATING =
  "Redis Cluster: this prefix's slot is being migrated to another node, and its keys are split between the two (the nodes answer ASK, TRYAGAIN or MOVED); writes and scrapes resume when the migration ends (one left half-way: redis-cli --cluster fix)";

const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

type RedisLikeClient = Redis | Cluster;

/** Errors this module already described: their message is the description. */
const described = new WeakSet<Error>();

/** What the hints of a client the module made call its settings (see {@link nameSettings}). */
const settingNames = new WeakMap<object, SettingNames>();

/**
 * @internal Makes the hints of a client's errors name its settings as the user set them (`the url
 * option`, `REDIS_URL`, `the client's host option`). A client without them gets the environment's names.
 */
export function nameSettings(client: object, names: SettingNames | undefined): void {
  if (names) settingNames.set(client, names);
}

const keyPrefixes = new WeakMap<object, string>();

/**
 * @internal Names the key prefix the module's commands use on a client, so that a NOPERM on a key
 * says which keys the ACL user needs rather than only to check its rules.
 */
export function nameKeyPrefix(client: object, keyPrefix: string): void {
  keyPrefixes.set(client, keyPrefix);
}

/** @internal The setting names of a client, for a copy of it. */
export function namedSettingsOf(client: object): SettingNames | undefined {
  return settingNames.get(client);
}

/**
 * The hints of a client's errors: what to check for each kind of failure. Without setting names (a
 * client not given to the module) they name the environment variables, and the URL as a possibility.
 */
function hintsFor(client: RedisLikeClient | undefined) {
  const names = client ? settingNames.get(client) : undefined;
  const of = (option: Parameters<SettingNames['of']>[0], variable: string) =>
    names ? (names.of(option) ?? variable) : variable;
  const turnOn = (option: 'ssl', variable: string) =>
    names?.client
      ? `set ${of(option, variable)}`
      : names?.fromEnv === false
        ? `${option}: true`
        : `${of(option, variable)}=true`;
  // Two settings at once: `REDIS_HOST / REDIS_PORT`, `the host / port options`, or a client's own.
  const both = (a: 'host' | 'username', b: 'port' | 'password', variables: string) =>
    names?.fromEnv === false
      ? `${names.client ? "the client's" : 'the'} ${a} / ${b} options`
      : variables;
  const url = names?.url ? of('url', 'the URL') : undefined;
  // A Cluster client is always the user's: its credentials are its redisOptions.
  const cluster = !names && isCluster(client);
  return {
    address: url ?? both('host', 'port', 'REDIS_HOST / REDIS_PORT'),
    host: url ?? (names ? of('host', 'REDIS_HOST') : 'REDIS_HOST / the URL'),
    credentials: cluster
      ? "the Cluster client's redisOptions.username / password"
      : url
        ? `the user and password in ${url}`
        : names
          ? both('username', 'password', 'REDIS_PASSWORD')
          : "REDIS_PASSWORD / the URL's user",
    setPassword: cluster
      ? "set the Cluster client's redisOptions.password"
      : url
        ? `put it in ${url}`
        : names
          ? `set ${of('password', 'REDIS_PASSWORD')}`
          : 'set REDIS_PASSWORD or put it in the URL',
    useTls: url ? `use rediss:// in ${url}` : `use rediss:// or ${turnOn('ssl', 'REDIS_SSL')}`,
    servername: of('tlsServername', 'REDIS_TLS_SERVERNAME'),
    caFile: of('tlsCaFile', 'REDIS_TLS_CA_FILE'),
    certFile: of('tlsCertFile', 'REDIS_TLS_CERT_FILE'),
    keyFile: of('tlsKeyFile', 'REDIS_TLS_KEY_FILE'),
    sentinels: of('sentinels', 'REDIS_SENTINELS'),
    sentinelMaster: of('sentinelMaster', 'REDIS_SENTINEL_MASTER'),
    sentinelPassword: of('sentinelPassword', 'REDIS_SENTINEL_PASSWORD'),
  };
}

/**
 * Turns what a Redis command failed with into one line that names the real cause, where (`host:port`)
 * and what to check, for logs and the health route. It never contains a password or a URL.
 *
 * ioredis reports why a connection fails (a wrong password, an untrusted certificate, a refused
 * connection) only on the client's 'error' event; a command sent meanwhile fails with a generic
 * "Stream isn't writeable and enableOfflineQueue options is false". For a client the module made, the
 * last such event is remembered and named instead. Errors of the module's own client are described
 * already; describing them again returns their message unchanged.
 *
 * @example
 * // WRONGPASS: wrong password or user "metrics" at 127.0.0.1:6380 (check REDIS_PASSWORD / the URL's user)
 * // TLS: certificate not trusted at 127.0.0.1:6390 (SELF_SIGNED_CERT_IN_CHAIN; set REDIS_TLS_CA_FILE to the CA that signed it)
 * // connection refused at 127.0.0.1:6391 (is Redis running there? check REDIS_HOST / REDIS_PORT)
 * describeRedisError(error, client);
 *
 * @param error what a command rejected with (or what the client's 'error' event carried)
 * @param client the client the command ran on, for its address and its last connection error
 */
export function describeRedisError(error: unknown, client?: RedisLikeClient): string {
  if (error instanceof Error && described.has(error)) return error.message;
  return explain(error, client).message;
}

/**
 * The error to reject a failed command with: for a connection, authentication or TLS failure a
 * {@link RedisConnectionError}, {@link RedisAuthenticationError} or {@link RedisTimeoutError} whose
 * message is {@link describeRedisError}'s and whose `cause` is the original; any other error (a
 * script error, NOSCRIPT, a wrong type) unchanged. Either way the password of a failed HELLO or AUTH
 * on it is replaced by `***`.
 * @internal
 */
export function explainRedisError(error: unknown, client: RedisLikeClient): unknown {
  // A command queued while a connection failed is rejected with the failed HELLO's error itself.
  hideCommandCredentials(error);
  if (!(error instanceof Error) || described.has(error)) return error;
  const explanation = explain(error, client);
  if (!explanation.kind) return error;
  const explained: RedisMetricsRedisError = new explanation.kind(explanation.message, {
    cause: error,
  });
  described.add(explained);
  return explained;
}

interface Explanation {
  message: string;
  /** The error class to report it as; undefined to leave the error as it is. */
  kind?: new (message: string, options: { cause: unknown }) => RedisMetricsRedisError;
}

function explain(error: unknown, client: RedisLikeClient | undefined): Explanation {
  // Node's own socket errors come from another realm where code runs in a VM context (Jest).
  if (!(error instanceof Error) && !types.isNativeError(error)) {
    return { message: safe(String(error)) };
  }
  const history = client ? connectionHistory(client) : undefined;
  if (NOT_CONNECTED.test(error.message) && closedByThisProcess(client)) {
    // Until its socket has closed, the client still says "ready": a command made right after a
    // disconnect() (a shutdown's) was described as one to a client that keeps reconnecting.
    return {
      message: `not connected to Redis at ${where(client)}: this process closed the connection (disconnect() or quit()), and the client does not reconnect`,
      kind: RedisConnectionError,
    };
  }
  if (NOT_CONNECTED.test(error.message) && isCluster(client)) {
    // Not one node answered the client (wrong addresses, or plain connections to TLS ports).
    if (client?.status !== 'ready') return { message: NO_CLUSTER_NODE, kind: RedisConnectionError };
    return {
      message: `Redis Cluster: the master of this prefix's slot does not answer (is it down? the cluster has not failed it over yet)`,
      kind: RedisConnectionError,
    };
  }
  if (NOT_CONNECTED.test(error.message) && history?.closedBecause) {
    const db = (client as { options?: { db?: number } } | undefined)?.options?.db;
    return {
      message:
        `Redis at ${where(client)} has no database ${db ?? ''} (${safe(history.closedBecause.message)}): ` +
        'the client was closed, so that nothing is written to database 0; give a database number ' +
        'the server has (below its "databases" setting, 16 by default)',
      kind: RedisConnectionError,
    };
  }
  if (NOT_CONNECTED.test(error.message)) {
    // The command never reached Redis: the cause is how the connection last failed.
    const cause = history?.lastError;
    if (cause) {
      const explained = explainCause(cause, client, history?.lastErrorAfterConnect ?? false);
      if (explained.kind) return explained;
      return {
        message: `not connected to Redis at ${where(client)}: ${explained.message}`,
        kind: RedisConnectionError,
      };
    }
    if (client?.status === 'end') {
      // Closed, or its retryStrategy gave up: nothing will reconnect it.
      return {
        message: `not connected to Redis at ${where(client)}: the client has ended and does not reconnect (closed, or its retryStrategy stopped retrying)`,
        kind: RedisConnectionError,
      };
    }
    if (client?.status === 'ready') {
      // Its socket closed a moment ago and ioredis has not heard of it yet: it still says "ready".
      return {
        message: `not connected to Redis at ${where(client)}: the connection closed as the command was sent; the client reconnects`,
        kind: RedisConnectionError,
      };
    }
    const status = client?.status ? ` (${client.status})` : '';
    return {
      message: `not connected to Redis at ${where(client)}${status}; the client keeps reconnecting`,
      kind: RedisConnectionError,
    };
  }
  return explainCause(error, client, false);
}

/**
 * Whether the client is being closed by this process: ioredis's own flag (set by `disconnect()` and
 * `quit()`, cleared once the connection has closed, when the status says `end` instead).
 */
function closedByThisProcess(client: RedisLikeClient | undefined): boolean {
  return (client as { manuallyClosing?: unknown } | undefined)?.manuallyClosing === true;
}

function explainCause(
  error: Error,
  client: RedisLikeClient | undefined,
  afterConnect: boolean,
): Explanation {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const text = error.message;
  const at = where(client, error);
  const tlsOn = usesTls(client);
  const hint = hintsFor(client);

  // First: its text quotes the sentinels' last error, which may be a WRONGPASS of theirs, not the master's.
  if (/All sentinels are unreachable/.test(text)) return explainSentinels(client, text);
  if (/^WRONGPASS|invalid username-password pair|invalid password/i.test(text)) {
    return {
      message: `WRONGPASS: wrong password or user "${userOf(client)}" at ${at} (check ${hint.credentials})`,
      kind: RedisAuthenticationError,
    };
  }
  if (/^NOAUTH/.test(text)) {
    return {
      message: `NOAUTH: ${at} requires a password (${hint.setPassword})`,
      kind: RedisAuthenticationError,
    };
  }
  // A command refused inside a script: Redis 7.0 says neither which nor that the user's rules refused
  // it ("ERR The user executing the script can't run this command or subcommand script: ..."), 7.2 says
  // "ACL failure in script". The user needs every command the scripts run.
  if (/can't run this command or subcommand|ACL failure in script/.test(text)) {
    return {
      message:
        `NOPERM: user "${userOf(client)}" may not run a command of the module's Lua scripts at ${at}: ` +
        `${firstLine(text).replace(/\s*script: \w+, on @user_script:\d+\.?$/, '')} (check the user's ACL rules: the scripts run ${SCRIPT_COMMANDS.map((name) => `+${name}`).join(' ')})`,
      kind: RedisAuthenticationError,
    };
  }
  if (/^NOPERM/.test(text)) {
    return {
      message: `NOPERM: user "${userOf(client)}" may not do this at ${at}: ${firstLine(text)} (${aclHint(client, text)})`,
      kind: RedisAuthenticationError,
    };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const holds = (error as { cert?: { subjectaltname?: string } }).cert?.subjectaltname;
    return {
      message: `TLS: certificate name does not match "${serverName(client)}" at ${at}${holds ? `; it holds ${holds}` : ''} (set ${hint.servername} to a name it holds, or connect by that name)`,
      kind: RedisConnectionError,
    };
  }
  if (UNTRUSTED_CERTIFICATE.has(code)) {
    return {
      // With a CA given, "set it" would read as if none were: it is the wrong one.
      message: hasCa(client)
        ? `TLS: certificate not trusted at ${at} (${code}; ${hint.caFile} does not hold the CA that signed it)`
        : `TLS: certificate not trusted at ${at} (${code}; set ${hint.caFile} to the CA that signed it)`,
      kind: RedisConnectionError,
    };
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return {
      message: `TLS: the server's certificate is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} at ${at} (renew it, or check the clock)`,
      kind: RedisConnectionError,
    };
  }
  if (/certificate required/i.test(text)) {
    return {
      message: `TLS: ${at} requires a client certificate (set ${hint.certFile} and ${hint.keyFile})`,
      kind: RedisConnectionError,
    };
  }
  if (/alert (bad certificate|unknown ca|certificate unknown)/i.test(text)) {
    return {
      message: `TLS: ${at} rejected the client certificate (is it signed by a CA the server trusts? check ${hint.certFile})`,
      kind: RedisConnectionError,
    };
  }
  if (/wrong version number|packet length too long|unknown protocol/i.test(text)) {
    return {
      message: `TLS: ${at} did not answer in TLS (is it a plain port? use redis://)`,
      kind: RedisConnectionError,
    };
  }
  if (code === 'ECONNREFUSED') {
    // Behind Sentinel the address is the master the sentinels named, not a host / port setting.
    const sentinel = client?.options as { sentinels?: unknown[] | null; name?: string } | undefined;
    const check = sentinel?.sentinels?.length
      ? `the sentinels name it the master "${sentinel.name}" until they fail it over`
      : `check ${hint.address}`;
    return {
      message: `connection refused at ${at} (is Redis running there? ${check})`,
      kind: RedisConnectionError,
    };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    const host = (error as { hostname?: string }).hostname ?? hostOf(client);
    return {
      message: `host not found: ${host} (check ${hint.host})`,
      kind: RedisConnectionError,
    };
  }
  if (
    /max number of clients reached/i.test(text) ||
    ((code === 'ECONNRESET' || code === 'EPIPE') &&
      afterConnect &&
      client !== undefined &&
      connectionHistory(client)?.refusedAtMaxClients === true)
  ) {
    // Redis refuses a client over maxclients with an error line and closes the connection; ioredis
    // reports the closed socket, which would read as a TLS port.
    return {
      message: `maxclients: ${at} has reached its maxclients limit and refuses new connections (ERR max number of clients reached; raise maxclients there or close clients; the client keeps reconnecting)`,
      kind: RedisConnectionError,
    };
  }
  if ((code === 'ECONNRESET' || code === 'EPIPE') && afterConnect) {
    return {
      message: tlsOn
        ? `server closed the connection during TLS set-up at ${at} (does it require a client certificate? set ${hint.certFile} and ${hint.keyFile})`
        : `server closed the connection before answering at ${at} (is it a TLS port? ${hint.useTls}; or has it reached its maxclients?)`,
      kind: RedisConnectionError,
    };
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') {
    return {
      message: `connection to ${at} lost (${code}); the client keeps reconnecting`,
      kind: RedisConnectionError,
    };
  }
  if (code === 'ETIMEDOUT') {
    const limit = connectTimeoutOf(client);
    return {
      message: tlsOn
        ? `no TLS handshake with ${at}${limit} (is it a plain port? use redis://; else check the address and firewalls)`
        : `no answer from ${at}${limit} (check the address and firewalls)`,
      kind: RedisTimeoutError,
    };
  }
  if (/Command timed out/i.test(text)) {
    return {
      message: `no answer from ${at} within the command timeout (is Redis overloaded or paused?)`,
      kind: RedisTimeoutError,
    };
  }
  if (/^READONLY/.test(text)) {
    return {
      message: `READONLY: ${at} is a replica now (after a failover the client must follow the new master)`,
      kind: RedisConnectionError,
    };
  }
  if (/^LOADING/.test(text)) {
    return {
      message: `LOADING: ${at} is still loading its data set`,
      kind: RedisConnectionError,
    };
  }
  if (/^OOM/.test(text)) {
    // Redis's own text names the script's digest and line, which tell the user nothing. Like READONLY:
    // the server answers but cannot be written to for now.
    return {
      message: `OOM: ${at} has reached its maxmemory and refuses writes (raise maxmemory or free memory there; counting goes on in memory)`,
      kind: RedisConnectionError,
    };
  }
  if (/CLUSTERDOWN/.test(text)) {
    return {
      message:
        'CLUSTERDOWN: the Redis Cluster is down (a failed master whose replica is being promoted, which takes about cluster-node-timeout; or a master without a replica unreachable)',
      kind: RedisConnectionError,
    };
  }
  const redirected = /Too many Cluster redirections.*\b(MOVED|ASK|TRYAGAIN)\b(?: \d+ (\S+))?/.exec(
    text,
  );
  // A pipeline's command is not redirected by ioredis unless all of the pipeline can be: its reply
  // error is Redis's own, ASK to the importing node or TRYAGAIN while the slot's keys are split.
  if (!redirected && /^(ASK \d+ \S+|TRYAGAIN\b)/.test(text) && isCluster(client)) {
    return { message: SLOT_MIGRATING, kind: RedisConnectionError };
  }
  if (redirected) {
    const [, reply, address] = redirected;
    // MOVED to a master the client cannot reach: the slot's master is down and not failed over yet.
    // Otherwise the nodes answer, and redirect because the slot's keys are split by a migration.
    if (reply === 'MOVED' && address && !answers(client, address)) {
      return {
        message: `Redis Cluster: the master at ${address} does not answer for this prefix's slot (is it down? the cluster has not failed it over yet)`,
        kind: RedisConnectionError,
      };
    }
    return { message: SLOT_MIGRATING, kind: RedisConnectionError };
  }
  if (/Failed to refresh slots cache/.test(text)) {
    // The nodes answered, and refused the client's credentials: say that, not that none answered.
    const nodeError = (error as { lastNodeError?: unknown }).lastNodeError;
    if (nodeError instanceof Error) {
      const refused = explainCause(nodeError, client, false);
      if (refused.kind === RedisAuthenticationError) return refused;
    }
    return { message: NO_CLUSTER_NODE, kind: RedisConnectionError };
  }
  return { message: safe(firstLine(text)) };
}

/**
 * Why no sentinel gave the master: from the last error a sentinel gave this client, else from the
 * "Last error:" that ioredis appends to "All sentinels are unreachable" (`text`).
 */
function explainSentinels(client: RedisLikeClient | undefined, text: string): Explanation {
  const options = (client?.options ?? {}) as {
    name?: string;
    sentinels?: { host?: string; port?: number }[];
  };
  const sentinels = (options.sentinels ?? [])
    .map((sentinel) => formatAddress(sentinel.host ?? 'localhost', sentinel.port ?? 26379))
    .join(', ');
  const last =
    (client ? connectionHistory(client)?.lastSentinelError?.message : undefined) ??
    /Last error: (.*)/.exec(text)?.[1];
  const hint = hintsFor(client);
  // ioredis asks for the master's address (null for a name it does not know), then for the master's
  // other sentinels, which a sentinel refuses with "No such master" for such a name.
  if (last && /invalid reply: null|No such master/.test(last)) {
    return {
      message: `Sentinel: no sentinel knows a master named "${options.name}" (check ${hint.sentinelMaster})`,
      kind: RedisConnectionError,
    };
  }
  // NOAUTH: the client sent no password (a refused one is WRONGPASS), so ask for one.
  if (last && /\bNOAUTH\b/.test(last)) {
    return {
      message: `Sentinel: the sentinels at ${sentinels} require a password (set ${hint.sentinelPassword})`,
      kind: RedisAuthenticationError,
    };
  }
  if (last && /WRONGPASS|invalid password/.test(last)) {
    return {
      message: `Sentinel: the sentinels at ${sentinels} refused the password (check ${hint.sentinelPassword})`,
      kind: RedisAuthenticationError,
    };
  }
  return {
    message: `Sentinel: no sentinel answered at ${sentinels} (check ${hint.sentinels})`,
    kind: RedisConnectionError,
  };
}

/** Where the client connects: the failing address, the last one connected to, or the configured one. */
function where(client: RedisLikeClient | undefined, error?: Error): string {
  const failed = error as { address?: string; port?: number } | undefined;
  if (failed?.address && failed.port) return formatAddress(failed.address, failed.port);
  if (!client) return 'Redis';
  const options = client.options as {
    host?: string;
    port?: number;
    name?: string;
    sentinels?: unknown[] | null;
  };
  if (options.sentinels) {
    return connectionHistory(client)?.lastAddress ?? `the master "${options.name}" (via Sentinel)`;
  }
  if (options.host === undefined) return 'the Redis Cluster';
  return formatAddress(options.host, options.port ?? 6379);
}

/** Whether a Cluster client holds a ready connection to the node at `address` (`host:port`). */
function answers(client: RedisLikeClient | undefined, address: string): boolean {
  if (!isCluster(client)) return false;
  return (client as Cluster)
    .nodes('all')
    .some(
      (node) =>
        node.status === 'ready' &&
        formatAddress(node.options.host ?? 'localhost', node.options.port ?? 6379) === address,
    );
}

function isCluster(client: RedisLikeClient | undefined): boolean {
  return (client as { isCluster?: boolean } | undefined)?.isCluster === true;
}

function userOf(client: RedisLikeClient | undefined): string {
  const options = client?.options as
    { username?: string; redisOptions?: { username?: string } } | undefined;
  return options?.username || options?.redisOptions?.username || 'default';
}

function hostOf(client: RedisLikeClient | undefined): string {
  return (client?.options as { host?: string } | undefined)?.host ?? 'the configured host';
}

function serverName(client: RedisLikeClient | undefined): string {
  const options = client?.options as { host?: string; tls?: { servername?: string } } | undefined;
  return options?.tls?.servername ?? options?.host ?? '?';
}

/** Whether the client was given a CA to trust (`tls.ca`), besides Node's own. */
function hasCa(client: RedisLikeClient | undefined): boolean {
  return Boolean((client?.options as { tls?: { ca?: unknown } } | undefined)?.tls?.ca);
}

function usesTls(client: RedisLikeClient | undefined): boolean {
  return Boolean((client?.options as { tls?: unknown } | undefined)?.tls);
}

function connectTimeoutOf(client: RedisLikeClient | undefined): string {
  const timeout = (client?.options as { connectTimeout?: number } | undefined)?.connectTimeout;
  return timeout ? ` within ${timeout} ms` : '';
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}

/**
 * Removes credentials from anything that looks like a URL (a password may hold `/` or `:`), the
 * `?password=` of a Redis URL's query included.
 */
function safe(text: string): string {
  return text.replace(/(\w+:\/\/)\S*@/g, '$1***@').replace(/([?&]password=)[^&\s]*/gi, '$1***');
}

/**
 * What a NOPERM asks of the ACL rules. Redis does not say which key it refused (Redis 7.0: "one of the
 * keys used as arguments"; 7.2: "a key"): every key of the module is under its prefix's hash tag.
 */
function aclHint(client: RedisLikeClient | undefined, text: string): string {
  const prefix = client ? keyPrefixes.get(client) : undefined;
  if (prefix === undefined || !/\bkeys?\b/i.test(firstLine(text)))
    return "check the user's ACL rules";
  return `check the user's ACL rules: it needs the keys {${prefix}}:* (ACL ~{${prefix}}:*)`;
}
