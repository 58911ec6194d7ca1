import { writeFile } from 'node:fs/promises';

import { startAppProcess } from '../harness/app-process.js';
import {
  makeTempDir,
  removeTempDir,
  sleep,
  startRedisProcess,
  waitFor,
  type RedisProcess,
} from '../harness/redis-processes.mjs';
import { freePort } from '../harness/redis-server.mjs';
import { respCall } from '../harness/resp-call.mjs';

// The module's Sentinel client tries the failover detector's sentinels again every 2 s at most, where
// ioredis waits a minute. ioredis gives those connections no 'error' listener, so each failed try
// printed "[ioredis] Unhandled error event" with a stack trace on stderr: a sentinel gone for good
// (decommissioned, renamed) filled the logs with one every 2 s, forever.

describe('an app whose sentinel is gone for good', () => {
  let dir: string;
  let master: RedisProcess | undefined;
  let sentinel: RedisProcess | undefined;

  beforeAll(async () => {
    dir = await makeTempDir('sentinel-gone');
    master = await startRedisProcess({
      dir,
      port: await freePort(),
      args: (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
    });
    const file = `${dir}/sentinel.conf`;
    const config = `bind 127.0.0.1\ndir ${dir}\nsentinel monitor gone 127.0.0.1 ${master.port} 1\n`;
    await writeFile(file, config);
    sentinel = await startRedisProcess({
      dir,
      port: await freePort(),
      binary: 'redis-sentinel',
      args: (port) => [file, '--port', String(port)],
    });
  });
  afterAll(async () => {
    await sentinel?.kill();
    await master?.kill();
    if (dir) await removeTempDir(dir);
  });

  it('prints no unhandled error event at each try to reach it again', async () => {
    const app = await startAppProcess({
      REDIS_ENABLED: 'true',
      REDIS_SENTINELS: `127.0.0.1:${sentinel!.port}`,
      REDIS_SENTINEL_MASTER: 'gone',
      REDIS_FRESH_SCRAPE_WAIT_MS: '0',
    });
    try {
      await waitFor('the failover detector to subscribe', async () =>
        / sub=1 /.test(String(await respCall({ port: sentinel!.port }, 'CLIENT', 'LIST'))),
      );
      await sentinel!.kill();
      // Tried again after 200, 400 and 600 ms.
      await sleep(1500);
      expect(app.output()).not.toMatch(/Unhandled error event/);
    } finally {
      await app.close();
    }
  });
});
