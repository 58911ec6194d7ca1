import type { Redis } from 'ioredis';

import { createRedisClient, resolveRedisMetricsOptions } from '../../src/index.js';
import { testRedisUrl } from '../harness/test-redis.js';

// ioredis listens to a socket's 'error' once, and a TLS socket can fail twice (a failed handshake,
// then the hang-up; ioredis#961). Without a listener the second error is thrown and the app dies.
describe("the module's client and its sockets", () => {
  let client: Redis | undefined;
  afterEach(() => client?.disconnect());

  it.each([
    ['the first connection', false],
    ['a duplicate that connects at once', true],
  ])(
    '%s: a socket error after the first one ioredis heard does not throw',
    async (_, duplicated) => {
      const made = createRedisClient(
        resolveRedisMetricsOptions({ enabled: true, url: testRedisUrl() }),
      );
      client = duplicated ? made.duplicate({ lazyConnect: false }) : made;
      if (duplicated) made.disconnect();
      else await client.connect();
      await new Promise((resolve) =>
        client!.status === 'ready' ? resolve(undefined) : client!.once('ready', resolve),
      );
      client.on('error', () => undefined);
      const socket = (client as unknown as { stream: NodeJS.EventEmitter }).stream;

      socket.emit('error', new Error('the handshake failed'));

      expect(() => socket.emit('error', new Error('then the server hung up'))).not.toThrow();
    },
  );
});
