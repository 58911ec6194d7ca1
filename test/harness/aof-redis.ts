import { makeTempDir, removeTempDir, startRedisProcess } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';

/**
 * A private redis-server on a free loopback port, in a temp dir of its own, with the given persistence
 * arguments (RDB snapshots always off). `cleanups` gets what stops it and removes its dir.
 */
export async function startPrivateRedis(
  label: string,
  cleanups: (() => unknown)[],
  persistence: string[],
) {
  const dir = await makeTempDir(label);
  cleanups.push(() => removeTempDir(dir));
  const server = await startRedisProcess({
    dir,
    port: await freePort(),
    args: (port: number) => [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
      ...persistence,
    ],
  });
  cleanups.push(() => server.kill());
  return server;
}

/**
 * A single redis-server that writes every command to its AOF before answering (`appendfsync always`),
 * so a SIGKILL and restart loses nothing but changes its run id and its hash seed.
 */
export function startAofRedis(label: string, cleanups: (() => unknown)[]) {
  return startPrivateRedis(label, cleanups, ['--appendonly', 'yes', '--appendfsync', 'always']);
}
