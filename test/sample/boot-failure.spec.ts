import { jest } from '@jest/globals';
import { createServer, type Server } from 'node:net';

import { freePort } from '../harness/redis-server.mjs';
import { startedSamples, startSample } from '../harness/sample-process.js';

// A real node:cluster sample on a loaded machine.
jest.setTimeout(60_000);

describe('the sample whose workers cannot start', () => {
  let taken: Server | undefined;

  afterAll(async () => {
    await Promise.all(startedSamples.map((sample) => sample.stop()));
    await new Promise((resolve) => (taken ? taken.close(resolve) : resolve(undefined)));
  });

  it('stops with exit code 1 when its port is taken, rather than forking workers forever', async () => {
    const port = await freePort();
    taken = createServer();
    await new Promise<void>((resolve) => taken!.listen(port, resolve));

    // Every worker fails on EADDRINUSE before it serves; the old primary replaced each, forever.
    const started = startSample({ WORKERS: '2', PORT: String(port) });

    await expect(started).rejects.toThrow('the sample exited (1) before serving');
    await expect(started).rejects.toThrow(/Worker \d+ failed to start \(exit 1\); stopping/);
  });
});
