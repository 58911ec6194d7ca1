import { inspect } from 'node:util';

import { jest } from '@jest/globals';
import { Redis } from 'ioredis';

import {
  RedisAuthenticationError,
  RedisConnectionError,
  RedisTimeoutError,
  toRedisError,
  withRetry,
} from '../../src/index.js';
import { freePort, startPrivateRedis } from '../harness/redis-server.mjs';

describe('Redis errors from what ioredis reports', () => {
  it('maps a refused connection to RedisConnectionError', async () => {
    const port = await freePort();
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      disconnectTimeout: 50,
    });
    client.on('error', () => undefined);
    const error = await client.connect().then(() => undefined, toRedisError);
    client.disconnect();
    expect(error).toBeInstanceOf(RedisConnectionError);
    expect((error as Error).message).toBe('Connection is closed.');
  });

  it('maps a wrong password to RedisAuthenticationError without the password in the message', async () => {
    const redis = await startPrivateRedis();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', 'the-real-one');
    admin.disconnect();
    const client = new Redis(redis.url, {
      password: 'not-the-password',
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      disconnectTimeout: 50,
    });
    // ioredis reports the refused AUTH as an 'error' event; connect() itself only sees the closed socket.
    const reported = new Promise<unknown>((resolve) => client.once('error', resolve));
    await client.connect().catch(() => undefined);
    const error = toRedisError(await reported);
    client.disconnect();
    await redis.stop();
    expect(error).toBeInstanceOf(RedisAuthenticationError);
    expect((error as Error).message).toMatch(/^WRONGPASS/);
    expect((error as Error).message).not.toContain('not-the-password');
  });

  it("keeps no password of a client's refused HELLO, which ioredis puts on the error and rejects queued commands with", async () => {
    const redis = await startPrivateRedis();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', 'the-real-one');
    admin.disconnect();
    // ioredis' defaults: a command sent while connecting waits in the offline queue.
    const client = new Redis(redis.url, {
      password: 'not-the-password',
      retryStrategy: () => null,
    });
    client.on('error', () => undefined);
    const queued = await client.get('x').then(
      () => undefined,
      (error: unknown) => error,
    );
    client.disconnect();
    await redis.stop();
    const mapped = toRedisError(queued);
    expect(mapped).toBeInstanceOf(RedisAuthenticationError);
    expect((mapped as Error).cause).toMatchObject({
      command: { name: 'hello', args: ['3', 'AUTH', 'default', '***'] },
    });
    expect(inspect(mapped, { depth: 10 })).not.toContain('not-the-password');
  });

  it('maps a command timeout to RedisTimeoutError and leaves other errors alone', async () => {
    const redis = await startPrivateRedis();
    // A busy machine may take longer than 50 ms for a first command: only the blocking one gets it.
    // disconnectTimeout as for the other clients here: ioredis' default 2 s, armed on a socket that
    // had already closed, once outlived this file.
    const patient = new Redis(redis.url, { disconnectTimeout: 50 });
    const client = new Redis(redis.url, { commandTimeout: 50, disconnectTimeout: 50 });
    const scriptError = await patient
      .eval('return redis.call("NOPE")', 0)
      .then(() => undefined, toRedisError);
    await patient.ping();
    const error = await client.blpop('never-filled-list', 5).then(() => undefined, toRedisError);
    patient.disconnect();
    client.disconnect();
    await redis.stop();
    expect(error).toBeInstanceOf(RedisTimeoutError);
    expect(scriptError).toBeInstanceOf(Error);
    expect((scriptError as Error).name).not.toMatch(
      /^Redis(Connection|Timeout|Authentication)Error$/,
    );
  });
});

describe('withRetry', () => {
  it('retries connection and timeout errors with exponential backoff, then succeeds', async () => {
    // Fake timers: a real clock read around setTimeout can come out a millisecond short.
    jest.useFakeTimers();
    try {
      const calls: number[] = [];
      const started = Date.now();
      const retried = withRetry(
        async () => {
          calls.push(Date.now() - started);
          if (calls.length < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:1');
          return 'done';
        },
        { maxRetries: 3, delay: 40 },
      );
      await jest.advanceTimersByTimeAsync(39);
      expect(calls).toEqual([0]);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls).toEqual([0, 40]);
      await jest.advanceTimersByTimeAsync(79);
      expect(calls).toEqual([0, 40]);
      await jest.advanceTimersByTimeAsync(1);
      // Waits of 40 ms, then 80 ms.
      expect(calls).toEqual([0, 40, 120]);
      await expect(retried).resolves.toBe('done');
    } finally {
      jest.useRealTimers();
    }
  });

  it('gives up after maxRetries attempts with the mapped error', async () => {
    let attempts = 0;
    const failure = await withRetry(
      async () => {
        attempts += 1;
        throw new Error('Command timed out');
      },
      { maxRetries: 2, delay: 1 },
    ).catch((e: unknown) => e);
    expect(attempts).toBe(2);
    expect(failure).toBeInstanceOf(RedisTimeoutError);
  });

  it('does not retry an authentication error or a bad maxRetries', async () => {
    let attempts = 0;
    const failure = await withRetry(async () => {
      attempts += 1;
      throw new Error('WRONGPASS invalid username-password pair');
    }).catch((e: unknown) => e);
    expect(attempts).toBe(1);
    expect(failure).toBeInstanceOf(RedisAuthenticationError);
    await expect(withRetry(async () => 1, { maxRetries: 0 })).rejects.toThrow(
      'withRetry: maxRetries must be a whole number of at least 1; got 0',
    );
  });
});
