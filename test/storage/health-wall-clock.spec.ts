import { jest } from '@jest/globals';
import { Counter, Registry } from 'prom-client';

import { ProcessIdentity, storageHealth } from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

// A host's wall clock can be stepped while the process runs (NTP, a VM resumed): the health answer
// must age the last flush by the time that really passed, not by the step.
describe('health when the wall clock steps', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('health-wall-clock');

  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['forward by 10 minutes', 600_000],
    ['back by 5 minutes', -300_000],
  ])('reports the last flush 100 ms old and up after a step %s', async (_step, stepMs) => {
    const registry = new Registry();
    new Counter({ name: 'stepped_total', help: 'Stepped', registers: [registry] }).inc();
    const identity = ProcessIdentity.create();
    const flusher = testFlusher(redis.client, prefix, registry, { identity, intervalMs: 250 });
    expect((await flusher.flush()).ok).toBe(true);
    const flushedAt = flusher.lastSuccessTime!;

    const wallNow = Date.now();
    jest.spyOn(Date, 'now').mockReturnValue(wallNow + stepMs);
    jest.spyOn(performance, 'now').mockReturnValue(flushedAt + 100);

    const health = storageHealth(flusher, identity, 250);
    expect([health.status, health.lastFlushAgeMs, health.error]).toEqual(['up', 100, undefined]);
  });
});
