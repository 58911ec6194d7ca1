import { hideCommandCredentials } from '../command-credentials.js';
import { connectionHistory } from './connection-history.js';
import type { RedisClient } from './lua-scripts.js';

/** Words ioredis uses for a command it cannot send (described as no node answering). */
const CLUSTER_NOT_READY = 'Connection is closed.';

/**
 * Throws when `client` is a Redis Cluster client that is not ready (no node answered, or every node
 * refused its password): such a client keeps commands in its offline queue without failing them, so a
 * flush would wait there for as long as the cluster stays out of reach, and a scrape its whole timeout
 * with a 503 that says "no answer" instead of why. The error is the client's last connection error
 * (its password hidden), as the module's own client, which has no offline queue, would fail with.
 */
export function failUnlessClusterReady(client: RedisClient): void {
  if (!client.isCluster || client.status === 'ready') return;
  const error = connectionHistory(client)?.lastError ?? new Error(CLUSTER_NOT_READY);
  // A refused HELLO's error, its password among the arguments.
  hideCommandCredentials(error);
  throw error;
}
