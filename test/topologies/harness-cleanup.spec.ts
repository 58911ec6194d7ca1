import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

import { startRedisWithAuth } from '../harness/redis-auth-server.mjs';
import { waitFor } from '../harness/redis-processes.mjs';
import { respCall } from '../harness/resp-call.mjs';

// The topology harness starts many redis processes; none may outlive the test process, not even when
// the test process is killed without a chance to clean up.

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the topology harness', () => {
  it('starts a server with requirepass and an ACL user, and stop() leaves no process and no dir', async () => {
    const server = await startRedisWithAuth();
    const pid = server.process.pid();
    expect(pid).toEqual(expect.any(Number));
    expect(existsSync(server.process.dir)).toBe(true);
    await expect(respCall({ port: server.port }, 'PING')).resolves.toEqual(
      new Error('NOAUTH Authentication required.'),
    );
    await expect(
      respCall({ port: server.port, password: server.password }, 'ACL', 'WHOAMI'),
    ).resolves.toBe('default');
    await expect(
      respCall(
        { port: server.port, username: server.username, password: server.userPassword },
        'ACL',
        'WHOAMI',
      ),
    ).resolves.toBe('metrics');

    await server.stop();
    expect(isRunning(pid!)).toBe(false);
    expect(server.process.running()).toBe(false);
    expect(existsSync(server.process.dir)).toBe(false);
  });

  it('kills the servers of a test process that was SIGKILLed, and deletes their dirs', async () => {
    const harness = new URL('../harness/redis-auth-server.mjs', import.meta.url).href;
    const script = `
      import { startRedisWithAuth } from ${JSON.stringify(harness)};
      const server = await startRedisWithAuth();
      console.log(JSON.stringify({ pid: server.process.pid(), dir: server.process.dir }));
      setInterval(() => undefined, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started = await new Promise<{ pid: number; dir: string }>((resolve, reject) => {
      child.stdout.once('data', (line) => resolve(JSON.parse(String(line))));
      child.once('exit', (code) => reject(new Error(`the test process exited with ${code}`)));
    });
    expect(isRunning(started.pid)).toBe(true);

    child.kill('SIGKILL');
    await waitFor('the watchdog to kill the orphaned server', async () => !isRunning(started.pid), {
      timeoutMs: 5000,
    });
    await waitFor('the watchdog to delete its dir', async () => !existsSync(started.dir), {
      timeoutMs: 5000,
    });
  });
});
