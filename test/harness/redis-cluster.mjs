// @ts-check
// A real Redis Cluster on loopback ports for the tests: 3 masters, with or without one replica each.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { makeTempDir, removeTempDir, startRedisProcess, waitFor } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';
import { parseInfo, respCall } from './resp-call.mjs';

const run = promisify(execFile);

/**
 * One node of the cluster.
 * @typedef {object} ClusterNode
 * @property {number} port
 * @property {number} [tlsPort] with `tls`: the port it also listens on with TLS, which it announces
 *   and which its replicas replicate from
 * @property {string} id the node id (stable across restarts: it lives in the node's nodes.conf)
 * @property {import('./redis-processes.mjs').RedisProcess} process
 */

/**
 * A running cluster.
 * @typedef {object} RedisClusterHandle
 * @property {ClusterNode[]} nodes every node, masters and replicas, in start order
 * @property {{ host: string, port: number }[]} startupNodes addresses to hand to an ioredis `Cluster`
 * @property {{ host: string, port: number }[]} [tlsStartupNodes] with `tls`: the TLS addresses, which
 *   the nodes announce
 * @property {() => Promise<ClusterNode[]>} masters the nodes serving slots now
 * @property {(key: string) => Promise<ClusterNode>} masterOf the master serving the key's slot now
 * @property {(node: ClusterNode) => Promise<ClusterNode[]>} replicasOf the nodes replicating `node` now
 * @property {(master: ClusterNode) => Promise<void>} waitUntilReplicated waits until every replica of
 *   `master` has every write the master took so far (before a kill, so a failover loses nothing)
 * @property {(node: ClusterNode) => Promise<void>} killNode SIGKILLs the node and waits until it is gone
 * @property {(node: ClusterNode) => Promise<void>} restartNode starts it again on the same port with the
 *   same nodes.conf and waits until the whole cluster is healthy again
 * @property {(killed: ClusterNode) => Promise<ClusterNode>} waitForFailover waits until a replica of a
 *   killed master serves its slots and every running node says the cluster is ok; returns the new master
 * @property {(key: string) => Promise<{ killed: ClusterNode, replica: ClusterNode, promoted: ClusterNode }>}
 *   failOverMasterOf kills the master serving the key's slot once its replica has every write, and waits
 *   for the failover: the killed master, its replica before the kill, and the master serving the slot now
 * @property {(key: string) => Promise<SlotMigration>} startSlotMigration starts moving the slot of
 *   `key` to another master as `redis-cli --cluster reshard` does (IMPORTING on the target, then
 *   MIGRATING on the source), moving no key yet: see {@link SlotMigration}
 * @property {() => Promise<void>} waitUntilHealthy waits until every running node says ok, agrees on who
 *   serves which slots, and every replica's link to its master is up
 * @property {() => Promise<void>} stop kills every node and deletes the temp dir
 */

/**
 * A slot migration under way, which the test moves key by key (`MIGRATE ... KEYS`) to leave it
 * half-way, as an operator's reshard interrupted or still running does.
 * @typedef {object} SlotMigration
 * @property {number} slot
 * @property {ClusterNode} source the master that served the slot
 * @property {ClusterNode} target the master it moves to
 * @property {() => Promise<string[]>} keysLeft the slot's keys still on the source
 * @property {(keys: string[]) => Promise<void>} move migrates these keys to the target
 * @property {() => Promise<void>} finish moves every key left, gives the slot to the target on every
 *   master (`CLUSTER SETSLOT <slot> NODE`) and waits until the cluster is healthy
 */

const HOST = '127.0.0.1';

/**
 * Starts 3 masters (and, with `replicas: 1`, one replica each), joins them with
 * `redis-cli --cluster create` and waits until the cluster is healthy (about 2 s).
 *
 * Tuned for tests: a node is failed after 1 s without an answer, a replica may always take over
 * (validity factor 0), replicas sync from an RDB file (a diskless sync waits 5 s before it starts, then
 * holds writes back until the replica's first ACK, up to a second later), and nothing is persisted.
 *
 * With `tls`, every node also listens with TLS, the cluster bus and replication speak TLS, and the
 * nodes announce their TLS ports (`tls-cluster`): a client reaches the cluster only with TLS, from
 * `tlsStartupNodes`. The plain ports stay for the harness's own calls.
 * @param {{ replicas?: 0 | 1, tls?: { certFile: string, keyFile: string, caFile: string } }} [options]
 * @returns {Promise<RedisClusterHandle>}
 */
export async function startRedisCluster({ replicas = 1, tls } = {}) {
  const dir = await makeTempDir(tls ? 'cluster-tls' : replicas ? 'cluster' : 'cluster-no-replicas');
  /** @type {import('./redis-processes.mjs').RedisProcess[]} */
  const processes = [];
  const stop = async () => {
    await Promise.all(processes.map((process) => process.kill()));
    await removeTempDir(dir);
  };
  try {
    const count = 3 * (1 + replicas);
    /** @type {number[]} */
    const tlsPorts = [];
    for (const { process, tlsPort } of await Promise.all(
      Array.from({ length: count }, () => startClusterNode(dir, tls)),
    )) {
      processes.push(process);
      if (tlsPort !== undefined) tlsPorts.push(tlsPort);
    }
    await run(
      'redis-cli',
      [
        ...(tls ? ['--tls', '--cacert', tls.caFile] : []),
        '--cluster',
        'create',
        ...(tls ? tlsPorts : processes.map((process) => process.port)).map(
          (port) => `${HOST}:${port}`,
        ),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      { timeout: 20_000 },
    );
    const nodes = await Promise.all(
      processes.map(async (process, i) => ({
        port: process.port,
        ...(tls ? { tlsPort: tlsPorts[i] } : {}),
        id: String(await respCall({ port: process.port }, 'CLUSTER', 'MYID')),
        process,
      })),
    );
    const cluster = clusterHandle(nodes, stop);
    cluster.tlsStartupNodes = tlsPorts.map((port) => ({ host: HOST, port }));
    await cluster.waitUntilHealthy();
    return cluster;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * @param {string} dir
 * @param {{ certFile: string, keyFile: string, caFile: string }} [tls]
 */
async function startClusterNode(dir, tls) {
  // The bus port is chosen too, so a node restarts on exactly the ports its peers know.
  const busPort = await freePort();
  const tlsPort = tls ? await freePort() : undefined;
  const tlsArgs = tls
    ? [
        ...['--tls-port', String(tlsPort), '--tls-cert-file', tls.certFile],
        ...['--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile],
        ...['--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes'],
      ]
    : [];
  const process = await startRedisProcess({
    dir,
    port: await freePort(),
    args: (port) => [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--dir',
      dir,
      '--logfile',
      `${dir}/node-${port}.log`,
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      `nodes-${port}.conf`,
      '--cluster-port',
      String(busPort),
      '--cluster-node-timeout',
      '1000',
      '--cluster-replica-validity-factor',
      '0',
      '--repl-diskless-sync',
      'no',
      '--save',
      '',
      '--appendonly',
      'no',
      ...tlsArgs,
    ],
  });
  return { process, tlsPort };
}

/**
 * @param {ClusterNode[]} nodes
 * @param {() => Promise<void>} stopAll
 * @returns {RedisClusterHandle}
 */
function clusterHandle(nodes, stopAll) {
  const running = () => nodes.filter((node) => node.process.running());
  const byId = (/** @type {string} */ id) => {
    const node = nodes.find((candidate) => candidate.id === id);
    if (!node) throw new Error(`unknown cluster node id ${id}`);
    return node;
  };
  /** What one node says: slot ranges with the id of the master serving each. */
  const slotOwners = async (/** @type {ClusterNode} */ node) => {
    const reply = /** @type {any[]} */ (await respCall({ port: node.port }, 'CLUSTER', 'SLOTS'));
    return reply
      .map((range) => ({
        start: Number(range[0]),
        end: Number(range[1]),
        master: String(range[2][2]),
      }))
      .sort((a, b) => a.start - b.start);
  };
  /** Parsed CLUSTER NODES of one node. */
  const clusterNodes = async (/** @type {ClusterNode} */ node) => {
    const text = String(await respCall({ port: node.port }, 'CLUSTER', 'NODES'));
    return text
      .trim()
      .split('\n')
      .map((line) => {
        const [id, , flags, masterId] = line.split(' ');
        return { id, flags: flags.split(','), masterId };
      });
  };
  /** @type {Map<string, { start: number, end: number, master: string }[]>} */
  const servedBy = new Map();
  const anyRunning = () => {
    const node = running()[0];
    if (!node) throw new Error('no cluster node is running');
    return node;
  };

  const replicasOf = async (/** @type {ClusterNode} */ node) => {
    const view = await clusterNodes(anyRunning());
    return view.filter((entry) => entry.masterId === node.id).map((entry) => byId(entry.id));
  };

  const isHealthy = async () => {
    const live = running();
    const liveIds = new Set(live.map((node) => node.id));
    const views = await Promise.all(
      live.map(async (node) => {
        const info = parseInfo(await respCall({ port: node.port }, 'CLUSTER', 'INFO'));
        const replication = parseInfo(await respCall({ port: node.port }, 'INFO', 'replication'));
        // Who replicates whom among the running nodes, and whether any of them looks failed.
        const roles = (await clusterNodes(node))
          .filter((entry) => liveIds.has(entry.id))
          .map((entry) => {
            const failing = entry.flags.some((flag) => flag === 'fail' || flag === 'fail?');
            return `${entry.id}>${entry.masterId}${failing ? '!' : ''}`;
          })
          .sort()
          .join(' ');
        return {
          port: node.port,
          tlsPort: node.tlsPort,
          info,
          replication,
          roles,
          owners: JSON.stringify(await slotOwners(node)),
        };
      }),
    );
    // Every replica has every write its master took so far (writes stream to it). A replica names
    // its master by the port it replicates from: the TLS one when replication speaks TLS.
    const offsetOf = new Map(
      views.flatMap((view) =>
        [view.port, view.tlsPort]
          .filter((port) => port !== undefined)
          .map((port) => [String(port), Number(view.replication.master_repl_offset)]),
      ),
    );
    const caughtUp = (/** @type {typeof views[number]} */ view) =>
      view.replication.role === 'master' ||
      Number(view.replication.slave_repl_offset) >=
        (offsetOf.get(view.replication.master_port) ?? Infinity);
    return (
      views.every(caughtUp) &&
      views.every(
        (view) =>
          view.info.cluster_state === 'ok' &&
          view.info.cluster_slots_ok === '16384' &&
          view.owners === views[0].owners &&
          view.roles === views[0].roles &&
          !view.roles.includes('!') &&
          (view.replication.role === 'master' || view.replication.master_link_status === 'up'),
      )
    );
  };

  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: HOST, port: node.port })),
    async masters() {
      const owners = await slotOwners(anyRunning());
      return [...new Set(owners.map((range) => range.master))].map(byId);
    },
    async masterOf(key) {
      const slot = Number(await respCall({ port: anyRunning().port }, 'CLUSTER', 'KEYSLOT', key));
      const range = (await slotOwners(anyRunning())).find((r) => r.start <= slot && slot <= r.end);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return byId(range.master);
    },
    replicasOf,
    async waitUntilReplicated(master) {
      const replicas = await replicasOf(master);
      const masterInfo = parseInfo(await respCall({ port: master.port }, 'INFO', 'replication'));
      const offset = Number(masterInfo.master_repl_offset);
      await waitFor(`the replicas of ${master.port} to reach offset ${offset}`, async () => {
        const offsets = await Promise.all(
          replicas.map(async (replica) => {
            const info = parseInfo(await respCall({ port: replica.port }, 'INFO', 'replication'));
            return Number(info.slave_repl_offset);
          }),
        );
        return offsets.every((replicated) => replicated >= offset);
      });
    },
    async killNode(node) {
      // Remember what it served, so waitForFailover knows which slots must move.
      const owners = await slotOwners(anyRunning());
      servedBy.set(
        node.id,
        owners.filter((range) => range.master === node.id),
      );
      await node.process.kill('SIGKILL');
    },
    async restartNode(node) {
      await node.process.restart();
      await waitFor(`cluster healthy after restarting ${node.port}`, isHealthy);
    },
    async waitForFailover(killed) {
      const served = servedBy.get(killed.id) ?? [];
      if (served.length === 0)
        throw new Error(`node ${killed.port} served no slots when it was killed`);
      return waitFor(`a replica to take over the slots of ${killed.port}`, async () => {
        const owner = (await slotOwners(anyRunning())).find(
          (range) => range.start === served[0].start,
        );
        if (!owner || owner.master === killed.id || !(await isHealthy())) return undefined;
        return byId(owner.master);
      });
    },
    async waitUntilHealthy() {
      await waitFor('the cluster to be healthy', isHealthy);
    },
    async startSlotMigration(key) {
      const source = await this.masterOf(key);
      const target = (await this.masters()).find((node) => node.id !== source.id);
      if (!target) throw new Error('a slot migration needs a second master');
      const slot = Number(await respCall({ port: source.port }, 'CLUSTER', 'KEYSLOT', key));
      await respCall({ port: target.port }, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
      await respCall({ port: source.port }, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
      const keysLeft = async () =>
        /** @type {string[]} */ (
          await respCall({ port: source.port }, 'CLUSTER', 'GETKEYSINSLOT', slot, 1000)
        );
      const move = async (/** @type {string[]} */ keys) => {
        if (keys.length === 0) return;
        await respCall(
          { port: source.port },
          ...['MIGRATE', HOST, target.port, '', 0, 5000, 'KEYS', ...keys],
        );
      };
      return {
        slot,
        source,
        target,
        keysLeft,
        move,
        finish: async () => {
          for (let keys = await keysLeft(); keys.length > 0; keys = await keysLeft())
            await move(keys);
          for (const node of await this.masters()) {
            await respCall({ port: node.port }, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
          }
          await this.waitUntilHealthy();
        },
      };
    },
    async failOverMasterOf(key) {
      const killed = await this.masterOf(key);
      const [replica] = await replicasOf(killed);
      await this.waitUntilReplicated(killed);
      await this.killNode(killed);
      return { killed, replica, promoted: await this.waitForFailover(killed) };
    },
    stop: stopAll,
  };
}
