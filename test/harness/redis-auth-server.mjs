// @ts-check
// A redis-server that requires a password for its default user and has one more ACL user.
import { randomBytes } from 'node:crypto';

import { makeTempDir, removeTempDir, startRedisProcess } from './redis-processes.mjs';
import { freePort } from './redis-server.mjs';

/**
 * @typedef {object} AuthRedisServer
 * @property {string} host
 * @property {number} port
 * @property {string} url `redis://127.0.0.1:<port>`, without credentials
 * @property {string} password the default user's password (`requirepass`), fresh for each server
 * @property {string} username the ACL user, allowed every key and command
 * @property {string} userPassword the ACL user's password, fresh for each server
 * @property {import('./redis-processes.mjs').RedisProcess} process
 * @property {() => Promise<void>} stop kills it and deletes its temp dir
 */

/**
 * Starts a redis-server with `requirepass` and the ACL user `username` (default `metrics`).
 * @param {{ username?: string }} [options]
 * @returns {Promise<AuthRedisServer>}
 */
export async function startRedisWithAuth({ username = 'metrics' } = {}) {
  const dir = await makeTempDir('auth-server');
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const userPassword = `upw-${randomBytes(12).toString('hex')}`;
  try {
    const process = await startRedisProcess({
      dir,
      port: await freePort(),
      password,
      args: (port) => [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--logfile',
        `${dir}/redis-${port}.log`,
        '--requirepass',
        password,
        '--user',
        username,
        'on',
        `>${userPassword}`,
        '~*',
        '&*',
        '+@all',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
    });
    return {
      host: '127.0.0.1',
      port: process.port,
      url: `redis://127.0.0.1:${process.port}`,
      password,
      username,
      userPassword,
      process,
      async stop() {
        await process.kill();
        await removeTempDir(dir);
      },
    };
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
}
