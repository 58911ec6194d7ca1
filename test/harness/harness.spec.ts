import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { connectTestRedis, testRedisUrl } from './test-redis.js';

const run = promisify(execFile);

describe('the test harness', () => {
  it('never uses the shared server on 6379 unless REDIS_URL says so, and its own keeps nothing on disk', async () => {
    if (process.env.REDIS_URL) {
      // The user chose the server; the harness must pass it on unchanged.
      expect(testRedisUrl()).toBe(process.env.REDIS_URL);
      return;
    }
    expect(new URL(testRedisUrl()).port).not.toBe('6379');
    const client = connectTestRedis();
    try {
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      await client.quit();
    }
  });

  it('fails with a message that says how to get Redis when there is none', async () => {
    const script = `
      import { provideTestRedis } from ${JSON.stringify(new URL('./redis-server.mjs', import.meta.url).href)};
      provideTestRedis({}).then(
        () => { console.log('unexpectedly found Redis'); process.exit(0); },
        (error) => { console.log(error.message); process.exit(3); },
      );`;
    const child = run(process.execPath, ['--input-type=module', '-e', script], {
      // No redis-server on the PATH and a container runtime that does not answer.
      env: {
        PATH: '/nonexistent',
        DOCKER_HOST: 'unix:///nonexistent/docker.sock',
        HOME: '/nonexistent',
      },
    });
    const error = (await child.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; stdout: string } | undefined;

    expect(error?.code).toBe(3);
    expect(error?.stdout).toContain('The tests need a real Redis server and found none.');
    expect(error?.stdout).toContain('set REDIS_URL=redis://host:port');
    expect(error?.stdout).toContain('apt-get install redis-server');
    expect(error?.stdout).toContain('redis-server: not found on the PATH');
  });
});
