// @ts-check
// Starting and stopping the redis-server and redis-sentinel processes of the topology harnesses, each
// in a temp dir, so that none outlives the test run: not when a test fails, nor when jest kills its
// worker.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from './redis-server.mjs';
import { respCall } from './resp-call.mjs';

/**
 * A redis-server or redis-sentinel process of the harness.
 * @typedef {object} RedisProcess
 * @property {number} port the port it listens on (the TLS port for a TLS-only server)
 * @property {string} dir its working directory (logs, nodes.conf, sentinel.conf)
 * @property {() => number | undefined} pid the pid of the running process, if it runs
 * @property {() => boolean} running
 * @property {(signal?: NodeJS.Signals) => Promise<void>} kill sends the signal (default SIGKILL) and
 *   waits until the process is gone
 * @property {() => Promise<void>} restart starts it again with the same arguments in the same dir
 */

/**
 * How to start one.
 * @typedef {object} RedisProcessSpec
 * @property {string} dir
 * @property {number} port
 * @property {(port: number) => string[]} args command-line arguments for a given port
 * @property {'redis-server' | 'redis-sentinel'} [binary] default redis-server
 * @property {import('./resp-call.mjs').RespTarget['tls']} [tls] how to reach it when it only speaks TLS
 * @property {string} [password] to PING it when it requires one
 */

const PREFIX = 'nrm-redis-';

/**
 * A fresh temp dir for one topology; {@link removeTempDir} deletes it.
 * @param {string} label
 * @returns {Promise<string>}
 */
export async function makeTempDir(label) {
  const dir = await mkdtemp(join(tmpdir(), `${PREFIX}${label}-`));
  watchdog().stdin?.write(`dir ${dir}\n`);
  return dir;
}

/** @param {string} dir */
export async function removeTempDir(dir) {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Starts a Redis process and waits until it answers PING. When `spec.port` is taken by the time it
 * binds, it tries other free ports (the returned process knows its port).
 * @param {RedisProcessSpec} spec
 * @returns {Promise<RedisProcess>}
 */
export async function startRedisProcess(spec) {
  for (let attempt = 1; ; attempt += 1) {
    const port = attempt === 1 ? spec.port : await freePort();
    try {
      return await launch(spec, port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt === 5) throw error;
    }
  }
}

class PortTakenError extends Error {}

/**
 * @param {RedisProcessSpec} spec
 * @param {number} port
 * @returns {Promise<RedisProcess>}
 */
async function launch(spec, port) {
  const binary = spec.binary ?? 'redis-server';
  // The process title keeps the dir, so the watchdog can tell a harness process from a reused pid.
  const args = [
    ...spec.args(port),
    '--proc-title-template',
    `{title} {listen-addr} {server-mode} ${spec.dir}`,
  ];
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  let exited = Promise.resolve();

  const start = async () => {
    // Logs go to a file in the dir (--logfile); stdout/stderr only carry start-up failures.
    const started = spawn(binary, args, { cwd: spec.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    child = started;
    started.unref();
    let stderr = '';
    started.stderr?.on('data', (chunk) => (stderr += chunk));
    /** @type {any} */ (started.stderr)?.unref?.();
    /** @type {() => void} */
    let markExited = () => undefined;
    exited = new Promise((resolve) => (markExited = () => resolve()));
    started.once('exit', () => markExited());
    /** @type {Error | undefined} */
    let spawnError;
    started.once('error', (error) => {
      spawnError = error;
      markExited();
    });
    if (started.pid !== undefined) watchdog().stdin?.write(`pid ${started.pid} ${spec.dir}\n`);
    try {
      await waitForPing({ port, tls: spec.tls, password: spec.password }, started, () => {
        if (spawnError) throw new Error(howToGet(binary, spawnError));
        return stderr;
      });
    } catch (error) {
      started.kill('SIGKILL');
      await exited;
      const bindFailure = new RegExp(`:${port}: bind: Address already in use`);
      throw bindFailure.test(stderr) || bindFailure.test(await logs(spec.dir))
        ? new PortTakenError(String(error))
        : error;
    }
  };

  await start();
  return {
    port,
    dir: spec.dir,
    pid: () =>
      child && child.exitCode === null && child.signalCode === null ? child.pid : undefined,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async kill(signal = 'SIGKILL') {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      // Referenced while it ends, so the 'exit' event is waited for even where nothing else runs.
      running.ref();
      running.kill(signal);
      await exited;
    },
    restart: start,
  };
}

/**
 * @param {string} binary
 * @param {Error} error
 */
function howToGet(binary, error) {
  const debianPackage = binary === 'redis-sentinel' ? 'redis-sentinel' : 'redis-server';
  return /ENOENT/.test(error.message)
    ? `The topology tests need the ${binary} binary and found none on the PATH: apt-get install ${debianPackage} (Debian/Ubuntu) or brew install redis (macOS).`
    : `${binary} could not be started: ${error.message}`;
}

/** @param {string} dir */
async function logs(dir) {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.log'));
  const texts = await Promise.all(files.map((name) => readFile(join(dir, name), 'utf8')));
  return texts.join('\n');
}

/**
 * Waits until a freshly started process answers PING (LOADING and other error replies count as not yet).
 * @param {import('./resp-call.mjs').RespTarget} target
 * @param {import('node:child_process').ChildProcess} child
 * @param {() => string} stderr what it printed so far; throws when it could not be spawned
 */
async function waitForPing(target, child, stderr) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const output = stderr();
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis process on port ${target.port} exited at start: ${output.trim()}`);
    }
    const reply = await respCall({ ...target, timeoutMs: 500 }, 'PING').catch((error) => error);
    if (reply === 'PONG') return;
    await sleep(10);
  }
  throw new Error(`redis process on port ${target.port} did not answer PING within 10 s`);
}

/**
 * Polls `check` every `intervalMs` until it returns something other than undefined or false.
 * @template T
 * @param {string} what for the error message
 * @param {() => Promise<T | undefined | false>} check
 * @param {{ timeoutMs?: number, intervalMs?: number }} [options]
 * @returns {Promise<T>}
 */
export async function waitFor(what, check, { timeoutMs = 15_000, intervalMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const result = await check();
      if (result !== undefined && result !== false) return result;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError ? ` (last error: ${/** @type {Error} */ (lastError).message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await sleep(intervalMs);
  }
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The watchdog is a shell that reads "pid PID DIR" and "dir DIR" lines on its stdin. Its stdin closes
// when this process ends, however it ends (a SIGKILLed jest worker included); it then SIGKILLs every
// listed process still running from a harness dir (its process title holds the dir, so a reused pid
// is never hit) and deletes the dirs. Normal stops have done both already.
const WATCHDOG_SCRIPT = `
pids=''; dirs=''
while read -r kind a b; do
  case "$kind" in
    pid) pids="$pids $a:$b" ;;
    dir) dirs="$dirs $a" ;;
  esac
done
for entry in $pids; do
  pid=\${entry%%:*}; dir=\${entry#*:}
  case "$(ps -o args= -p "$pid" 2>/dev/null)" in
    *"$dir"*) kill -9 "$pid" 2>/dev/null ;;
  esac
done
for dir in $dirs; do
  case "$dir" in
    */${PREFIX}*) rm -rf "$dir" ;;
  esac
done
`;

/** @type {import('node:child_process').ChildProcess | undefined} */
let watchdogProcess;

function watchdog() {
  if (watchdogProcess) return watchdogProcess;
  const child = spawn('sh', ['-c', WATCHDOG_SCRIPT], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.unref();
  // The pipe must not keep this process alive either; it closes when this process exits.
  /** @type {any} */ (child.stdin)?.unref?.();
  watchdogProcess = child;
  return child;
}
