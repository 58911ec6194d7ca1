// @ts-check
// Where the tests get a real Redis server. Plain ESM JavaScript because jest's global set-up imports it
// natively; checked by tsc through the JSDoc types.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/**
 * A Redis server the tests may use.
 * @typedef {object} TestRedis
 * @property {string} url
 * @property {string} source where it came from, for the log line of the run
 * @property {() => Promise<void>} stop
 */

/**
 * A Redis server owned by one test, which may stop it and start it again on the same address.
 * @typedef {TestRedis & { start: () => Promise<void> }} PrivateRedis
 */

export const HOW_TO_GET_REDIS = [
  'The tests need a real Redis server and found none. Any one of these fixes it:',
  '  - set REDIS_URL=redis://host:port to a server the tests may write to;',
  '  - install the redis-server binary (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis);',
  '  - run a container runtime (Docker or Podman) so testcontainers can start one.',
].join('\n');

/** @returns {boolean} whether a `redis-server` binary is on the PATH */
export function hasRedisServerBinary() {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The lowest port of the kernel's ephemeral range, which `connect()` and `listen(0)` draw from. */
function firstEphemeralPort() {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    return Number(low) || 32768;
  } catch {
    return 32768; // Linux's default; other systems start higher (macOS 49152)
  }
}

/** Ports this process handed out already, so two servers of one test never get the same one. */
const portsHandedOut = new Set();

/**
 * A TCP port that was free a moment ago on every interface, chosen at random below the kernel's
 * ephemeral range. Not `listen(0)`: a port from that range can be taken, between this answer and the
 * server's own bind, by any outgoing connection of the run (seen in CI: the sample's primary failed
 * with EADDRINUSE on a port `listen(0)` had just given out).
 * @returns {Promise<number>}
 */
export async function freePort() {
  const first = 10_000;
  const last = Math.max(first + 1000, firstEphemeralPort() - 1);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = first + Math.floor(Math.random() * (last - first + 1));
    if (portsHandedOut.has(port) || !(await canListenOn(port))) continue;
    portsHandedOut.add(port);
    return port;
  }
  throw new Error(`found no free TCP port between ${first} and ${last} in 200 tries`);
}

/**
 * @param {number} port
 * @returns {Promise<boolean>} whether a server could listen on `port` on every interface just now
 */
function canListenOn(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a private `redis-server` on a free port with persistence off.
 * @returns {Promise<PrivateRedis>}
 */
export async function startRedisServerBinary() {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  /** @type {PrivateRedis} */
  const server = {
    url,
    source: `a private redis-server on 127.0.0.1:${port}`,
    async start() {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
      ];
      child = spawn('redis-server', args, { stdio: 'ignore' });
      // The server must never keep the test run alive; stop() ends it.
      child.unref();
      await waitUntilReady(port, child);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise((resolve) => {
        running.once('exit', resolve);
        // Referenced while it ends: an unreferenced child's 'exit' does not keep Node alive, and the
        // run's last teardown would end the process there with status 0, whatever the tests did.
        running.ref();
        running.kill('SIGKILL');
      });
    },
  };
  await server.start();
  return server;
}

/**
 * Starts Redis in a container; rejects within milliseconds when no container runtime answers.
 * @returns {Promise<PrivateRedis>}
 */
export async function startRedisContainer() {
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer('redis:7-alpine').start();
  return {
    url: container.getConnectionUrl(),
    source: 'a Redis container started by testcontainers',
    async start() {
      await container.restart();
    },
    async stop() {
      await container.stop({ remove: false });
    },
  };
}

/**
 * Waits until the server answers PING, over a raw socket (an ioredis client would leave timers behind).
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} child
 */
async function waitUntilReady(port, child) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 10 s`);
}

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function answersPing(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * A Redis server of the caller's own: a container where a runtime answers, else a `redis-server`
 * binary, else an error that says how to get one.
 * @returns {Promise<PrivateRedis>}
 */
export async function startPrivateRedis() {
  const reasons = [];
  try {
    return await startRedisContainer();
  } catch (error) {
    reasons.push(`testcontainers: ${String(/** @type {Error} */ (error).message).split('\n')[0]}`);
  }
  if (hasRedisServerBinary()) return startRedisServerBinary();
  reasons.push('redis-server: not found on the PATH');
  throw new Error(`${HOW_TO_GET_REDIS}\n(Tried ${reasons.join('; ')}.)`);
}

/**
 * The Redis server of a test run: `REDIS_URL` if set, else {@link startPrivateRedis}.
 * @param {Record<string, string | undefined>} [env]
 * @returns {Promise<TestRedis>}
 */
export async function provideTestRedis(env = process.env) {
  if (env.REDIS_URL) return { url: env.REDIS_URL, source: 'REDIS_URL', stop: async () => {} };
  return startPrivateRedis();
}
