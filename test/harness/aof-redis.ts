import { makeTempDir, removeTempDir, startRedisProcess } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';

/**
 * A single redis-server that writes every command to its AOF before answering (`appendfsync always`),
 * so a SIGKILL and restart loses nothing but changes its run id and its hash seed. `cleanups` gets
 * what stops it and removes its dir.
 */
export async function startAofRedis(label: string, cleanups: (() => unknown)[]) {
  const dir = await makeTempDir(label);
  cleanups.push(() => removeTempDir(dir));
  const server = await startRedisProcess({
    dir,
    port: await freePort(),
    args: (port: number) => [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
      ...['--appendonly', 'yes', '--appendfsync', 'always'],
    ],
  });
  cleanups.push(() => server.kill());
  return server;
}
