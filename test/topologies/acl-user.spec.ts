import 'reflect-metadata';

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { jest } from '@jest/globals';
import {
  Controller,
  Module,
  Post,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';

import {
  ProcessIdentity,
  RedisMetricsModule,
  RedisMetricsService,
  RedisStorageDict,
  RedisStorageManager,
} from '../../src/index.js';
import { startRedisWithAuth, type AuthRedisServer } from '../harness/redis-auth-server.mjs';
import { uniquePrefix } from '../harness/test-redis.js';

// The least-privilege ACL rules the README gives, for the prefix `shop`: the test runs a real app as a
// user with exactly these, so a command the module starts to send fails here until the README says it.
const DOCUMENTED =
  'ACL SETUSER metrics on >password ~{shop}:* &{shop}:* +evalsha +eval +time +type +del +hset ' +
  '+hsetnx +hmget +hget +hdel +hgetall +hscan +zadd +zrem +zrange +zrangebyscore +zcount +zscore ' +
  '+exists +subscribe +publish +pubsub|numsub +info';

const root = new URL('../../', import.meta.url).pathname;

/** The `ACL SETUSER` line of the README (its only one). */
function readmeAclLine(): string {
  const lines = readFileSync(join(root, 'README.md'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('ACL SETUSER '));
  expect(lines).toHaveLength(1);
  return lines[0];
}

const ORDERS = 'acl_orders_total';
// More series than one HSCAN call reads (HSCAN_COUNT): a scrape then checks that the hash was not cut.
const BULK = 'acl_bulk_total';
const BULK_SERIES = 2500;

@Controller()
class OrdersController {
  private readonly orders: Counter<'shop'>;
  private readonly bulk: Counter<'n'>;
  constructor(metrics: RedisMetricsService) {
    this.orders = metrics.counter({ name: ORDERS, help: 'Orders placed', labelNames: ['shop'] });
    this.bulk = metrics.counter({ name: BULK, help: 'Many series', labelNames: ['n'] });
  }

  @Post('bulk')
  many(): string {
    for (let n = 0; n < BULK_SERIES; n += 1) this.bulk.inc({ n });
    return 'ok';
  }

  @Post('north')
  north(): string {
    this.orders.inc({ shop: 'north' });
    return 'ok';
  }

  @Post('south')
  south(): string {
    this.orders.inc({ shop: 'south' });
    return 'ok';
  }
}

jest.setTimeout(60_000);

let server: AuthRedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedisWithAuth();
  admin = new Redis({ port: server.port, password: server.password });
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe('a Redis user with exactly the ACL rules the README gives', () => {
  it('is the line of the README', () => {
    expect(readmeAclLine()).toBe(DOCUMENTED);
  });

  it('flushes, scrapes fresh, answers health, deletes counts and ends processes, refused nothing', async () => {
    const keyPrefix = uniquePrefix('acl');
    const password = 'acl-user-pw';
    // The README's line for this prefix, user and password; its rules as they are written.
    const [, , , ...rules] = readmeAclLine()
      .replaceAll('{shop}', `{${keyPrefix}}`)
      .replace('>password', `>${password}`)
      .split(' ');
    await admin.call('ACL', 'SETUSER', 'restricted', ...rules);
    await admin.call('ACL', 'LOG', 'RESET');

    const logged: string[] = [];
    const capture: LoggerService = {
      log: () => undefined,
      warn: (message: unknown) => void logged.push(`warn: ${String(message)}`),
      error: (message: unknown) => void logged.push(`error: ${String(message)}`),
    };
    // ioredis prints its own warnings (a refused ready check) with console.warn.
    const consoleWarn = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      logged.push(`console.warn: ${args.join(' ')}`);
    });
    const apps: INestApplication[] = [];
    try {
      // Two processes: a fresh scrape of one asks the other, over pub/sub, to flush first.
      for (let i = 0; i < 2; i += 1) {
        @Module({
          imports: [
            RedisMetricsModule.forRoot({
              url: `redis://restricted:${password}@127.0.0.1:${server.port}`,
              keyPrefix,
              registry: new Registry(),
              defaultMetrics: false,
              httpMetrics: false,
              // No background flush during the test: only a fresh scrape can show a new count.
              flushIntervalMs: 60_000,
              freshScrapeWaitMs: 5000,
            }),
          ],
          controllers: [OrdersController],
        })
        class AppModule {}
        const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
        const app = moduleRef.createNestApplication({ logger: capture });
        await app.listen(0, '127.0.0.1');
        expect(await app.get(RedisStorageManager).setup()).toBe(true);
        apps.push(app);
      }
      const [first, second] = await Promise.all(apps.map((app) => app.getUrl()));

      // A process of another host, written as the admin, that the first app then ends as dead.
      const other = ProcessIdentity.create({ pid: 4242, hostname: 'gone-host' });
      const otherClient = new Redis({ port: server.port, password: server.password });
      await new RedisStorageDict(otherClient, { keyPrefix, identity: other }).set('x', 1);
      otherClient.disconnect();
      expect(
        await apps[0]
          .get(RedisStorageManager)
          .markProcessDead({ pid: 4242, hostname: 'gone-host' }),
      ).toEqual([other.id]);

      for (let i = 0; i < 3; i += 1) await fetch(`${second}/north`, { method: 'POST' });
      await fetch(`${second}/south`, { method: 'POST' });
      await fetch(`${second}/bulk`, { method: 'POST' });
      const scrape = await fetch(`${first}/metrics`);
      expect(scrape.status).toBe(200);
      const lines = (await scrape.text()).split('\n');
      expect(lines.filter((line) => line.includes(ORDERS))).toEqual([
        `# HELP ${ORDERS} Orders placed`,
        `# TYPE ${ORDERS} counter`,
        `${ORDERS}{shop="north"} 3`,
        `${ORDERS}{shop="south"} 1`,
      ]);
      const bulk = lines.filter((line) => line.startsWith(`${BULK}{`));
      expect(bulk).toHaveLength(BULK_SERIES);
      expect(bulk.filter((line) => line.endsWith('"} 1'))).toHaveLength(BULK_SERIES);

      const health = await fetch(`${first}/metrics/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'up', liveProcesses: 2 });

      const service = apps[0].get(RedisMetricsService);
      expect(await service.deleteCounts(ORDERS, { shop: 'south' })).toBe(1);
      expect(await service.deleteCounts(BULK)).toBe(BULK_SERIES);
      // The second app still holds its counts and would write them again: closed first.
      await apps.pop()!.close();
      expect(await (await fetch(`${first}/metrics`)).text()).toBe(
        `# HELP ${ORDERS} Orders placed\n# TYPE ${ORDERS} counter\n${ORDERS}{shop="north"} 3\n`,
      );
      await apps.pop()!.close();

      // Both ended at shutdown as the restricted user: no process indexed, their own keys gone.
      expect(await admin.zrange(`{${keyPrefix}}:processes`, '0', '-1')).toEqual([]);
      expect(await admin.keys(`{${keyPrefix}}:gauges:*`)).toEqual([]);
      expect(await admin.keys(`{${keyPrefix}}:counters:*`)).toEqual([]);
      // Nothing was refused, in a script or not (a refusal inside a script can go unreported).
      expect(await admin.call('ACL', 'LOG')).toEqual([]);
      expect(logged).toEqual([]);
    } finally {
      consoleWarn.mockRestore();
      await Promise.all(apps.map((app) => app.close()));
      await admin.call('ACL', 'DELUSER', 'restricted');
    }
  });
});
