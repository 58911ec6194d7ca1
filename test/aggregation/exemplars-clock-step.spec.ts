import { jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { Counter, Registry, type OpenMetricsContentType } from 'prom-client';

import {
  OPENMETRICS_CONTENT_TYPE,
  ProcessIdentity,
  RedisMultiProcessCollector,
} from '../../src/index.js';
import { testFlusher } from '../harness/test-flusher.js';
import { useTestRedis } from '../harness/test-redis.js';

function makeProcess(client: Redis, prefix: string, pid: number) {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const orders = new Counter<string>({
    name: 'orders_total',
    help: 'Orders',
    enableExemplars: true,
    registers: [registry],
  });
  const flusher = testFlusher(client, prefix, registry, {
    identity: ProcessIdentity.create({ hostname: 'h', pid }),
  });
  return { orders, flusher };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisNowMs(client: Redis): Promise<number> {
  const [seconds, micros] = await client.time();
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

// A host's wall clock stepped back (NTP, a resumed VM) between an exemplar and the flush that sends it.
describe('an exemplar recorded before a step of the wall clock', () => {
  const redis = useTestRedis();
  const prefix = redis.prefix('exemplars-clock-step');

  afterEach(() => jest.restoreAllMocks());

  it('is dated no later than the flush that read it, so an exemplar recorded later wins', async () => {
    const { client } = redis;
    const [first, second] = [1, 2].map((pid) => makeProcess(client, prefix, pid));
    const start = await redisNowMs(client);
    first.orders.inc({ value: 1, exemplarLabels: { trace_id: 'before-step' } });
    const wallNow = Date.now.bind(Date);
    jest.spyOn(Date, 'now').mockImplementation(() => wallNow() - 600_000);
    expect((await first.flusher.flush()).ok).toBe(true);
    await pause(100);
    // Recorded and read on the stepped clock alike.
    second.orders.inc({ value: 2, exemplarLabels: { trace_id: 'after-step' } });
    expect((await second.flusher.flush()).ok).toBe(true);
    const end = await redisNowMs(client);

    const collector = new RedisMultiProcessCollector({ client, keyPrefix: prefix });
    const line = (await collector.metrics(OPENMETRICS_CONTENT_TYPE))
      .split('\n')
      .find((text) => text.startsWith('orders_total '));
    expect(line).toMatch(/^orders_total 3 # \{trace_id="after-step"\} 2 \S+$/);
    const at = Number(line!.split(' ').at(-1)) * 1000;
    expect(at).toBeGreaterThanOrEqual(Math.floor(start));
    expect(at).toBeLessThanOrEqual(Math.ceil(end));
  });
});
