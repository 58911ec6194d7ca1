// @ts-check
// A real Sentinel setup on loopback ports for the tests: a master, a replica and three sentinels.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';

import { makeTempDir, removeTempDir, startRedisProcess, waitFor } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';
import { parseInfo, respCall } from './resp-call.mjs';

/**
 * @typedef {{ host: string, port: number }} Address
 */

/**
 * A running Sentinel setup.
 * @typedef {object} RedisSentinelHandle
 * @property {string} masterName the name the sentinels monitor
 * @property {Address[]} sentinels the sentinels' addresses, for an ioredis `sentinels` option
 * @property {string | undefined} sentinelPassword the sentinels' password, when they require one
 * @property {import('./redis-processes.mjs').RedisProcess[]} servers the two data servers (the first
 *   started as master, the second as its replica), by their plain ports
 * @property {number[]} announcedPorts the port each data server is known by to the sentinels and so to
 *   clients: its TLS port when the setup runs TLS, else its plain port
 * @property {() => Promise<Address>} masterAddress the master as the first sentinel reports it now
 * @property {() => Promise<{ from: Address, to: Address }>} failover sends `SENTINEL FAILOVER` and
 *   waits until every sentinel reports the new master and it answers as master
 * @property {() => Promise<void>} restartSentinels stops the three sentinels (SIGTERM: each has
 *   rewritten its config file) and starts them again on their ports, waits until they agree on the
 *   master again
 * @property {() => Promise<void>} stop kills every process and deletes the temp dir
 */

const HOST = '127.0.0.1';

/**
 * Starts a master, a replica in sync with it and three sentinels that already know each other and the
 * replica (their config files say so), so the setup is ready at once instead of after Sentinel's 10 s
 * discovery. A master is down after 1 s without an answer.
 *
 * With `tls`, the data servers also listen with TLS, replicate over it, and the sentinels monitor and
 * announce their TLS ports (Redis's `tls-replication`), so a client reaches the master only with TLS;
 * the plain ports stay for the harness's own checks. The sentinels themselves answer plain TCP.
 * @param {{ masterName?: string, sentinelPassword?: string,
 *   tls?: { certFile: string, keyFile: string, caFile: string } }} [options]
 * @returns {Promise<RedisSentinelHandle>}
 */
export async function startRedisSentinel({
  masterName = 'nrm-master',
  sentinelPassword,
  tls,
} = {}) {
  const dir = await makeTempDir('sentinel');
  /** @type {import('./redis-processes.mjs').RedisProcess[]} */
  const processes = [];
  const stop = async () => {
    await Promise.all(processes.map((process) => process.kill()));
    await removeTempDir(dir);
  };
  /** TLS settings, as `redis-server` arguments (a sentinel's config file takes the same words). */
  const tlsSettings = tls
    ? [
        ['tls-cert-file', tls.certFile],
        ['tls-key-file', tls.keyFile],
        ['tls-ca-cert-file', tls.caFile],
        ['tls-auth-clients', 'no'],
        ['tls-replication', 'yes'],
      ]
    : [];
  try {
    /** @type {number[]} */
    const announcedPorts = [];
    const dataServer = async (/** @type {string[]} */ extra) => {
      const tlsPort = tls ? await freePort() : undefined;
      const server = await startRedisProcess({
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
          `${dir}/redis-${port}.log`,
          '--repl-diskless-sync',
          'no',
          '--save',
          '',
          '--appendonly',
          'no',
          ...(tlsPort ? ['--tls-port', String(tlsPort)] : []),
          ...tlsSettings.flatMap(([name, value]) => [`--${name}`, value]),
          ...extra,
        ],
      });
      announcedPorts.push(tlsPort ?? server.port);
      return server;
    };
    const master = await dataServer([]);
    processes.push(master);
    const replica = await dataServer(['--replicaof', HOST, String(announcedPorts[0])]);
    processes.push(replica);
    // Linked is not enough: the replica must receive writes as they happen.
    await respCall({ port: master.port }, 'SET', 'nrm-harness:replicated', '1');
    await waitFor('the replica to receive writes from the master', async () => {
      return (await respCall({ port: replica.port }, 'GET', 'nrm-harness:replicated')) === '1';
    });
    await respCall({ port: master.port }, 'DEL', 'nrm-harness:replicated');

    const sentinelPorts = await Promise.all([freePort(), freePort(), freePort()]);
    const ids = sentinelPorts.map(() => randomBytes(20).toString('hex'));
    const sentinels = await Promise.all(
      sentinelPorts.map(async (port, index) => {
        const file = `${dir}/sentinel-${port}.conf`;
        const lines = [
          `port ${port}`,
          `bind ${HOST}`,
          `dir ${dir}`,
          `logfile ${dir}/sentinel-${port}.log`,
          `sentinel myid ${ids[index]}`,
          `sentinel monitor ${masterName} ${HOST} ${announcedPorts[0]} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel known-replica ${masterName} ${HOST} ${announcedPorts[1]}`,
          ...tlsSettings.map(([name, value]) => `${name} ${value}`),
          ...sentinelPorts
            .filter((other) => other !== port)
            .map(
              (other) =>
                `sentinel known-sentinel ${masterName} ${HOST} ${other} ${ids[sentinelPorts.indexOf(other)]}`,
            ),
          ...(sentinelPassword
            ? [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]
            : []),
        ];
        await writeFile(file, `${lines.join('\n')}\n`);
        // Sentinel rewrites its config file, so each has its own, in the temp dir.
        return startRedisProcess({
          dir,
          port,
          binary: 'redis-sentinel',
          args: () => [file],
          password: sentinelPassword,
        });
      }),
    );
    processes.push(...sentinels);

    const ask = (/** @type {number} */ port, /** @type {(string | number)[]} */ ...args) =>
      respCall({ port, password: sentinelPassword }, ...args);
    const reported = async (/** @type {number} */ port) => {
      const reply = await ask(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName);
      if (!Array.isArray(reply)) throw new Error(`sentinel ${port} knows no master ${masterName}`);
      return { host: String(reply[0]), port: Number(reply[1]) };
    };
    const everySentinelSays = async (/** @type {(address: Address) => boolean} */ test) => {
      const addresses = await Promise.all(sentinels.map((sentinel) => reported(sentinel.port)));
      return addresses.every(test) ? addresses[0] : undefined;
    };
    await waitFor('the sentinels to see the master and the replica', async () => {
      const views = await Promise.all(
        sentinels.map(async (sentinel) => {
          const replicas = /** @type {any[]} */ (
            await ask(sentinel.port, 'SENTINEL', 'REPLICAS', masterName)
          );
          return (
            replicas.length === 1 && (await reported(sentinel.port)).port === announcedPorts[0]
          );
        }),
      );
      return views.every(Boolean);
    });

    return {
      masterName,
      sentinels: sentinels.map((sentinel) => ({ host: HOST, port: sentinel.port })),
      sentinelPassword,
      servers: [master, replica],
      announcedPorts,
      masterAddress: () => reported(sentinels[0].port),
      async failover() {
        const from = await reported(sentinels[0].port);
        const answer = await ask(sentinels[0].port, 'SENTINEL', 'FAILOVER', masterName);
        if (answer instanceof Error) throw new Error(`SENTINEL FAILOVER: ${answer.message}`);
        const to = await waitFor('every sentinel to report the new master', () =>
          everySentinelSays((address) => address.port !== from.port),
        );
        const plainPort = [master, replica][announcedPorts.indexOf(to.port)].port;
        await waitFor('the new master to answer as master', async () => {
          const info = parseInfo(await respCall({ port: plainPort }, 'INFO', 'replication'));
          return info.role === 'master';
        });
        return { from, to };
      },
      async restartSentinels() {
        const { port: masterPort } = await reported(sentinels[0].port);
        await Promise.all(sentinels.map((process) => process.kill('SIGTERM')));
        for (const process of sentinels) await process.restart();
        await waitFor('the restarted sentinels to agree on the master', () =>
          everySentinelSays((address) => address.port === masterPort),
        );
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
