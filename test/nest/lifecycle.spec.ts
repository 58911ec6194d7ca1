import 'reflect-metadata';

import { fork, type ChildProcess } from 'node:child_process';

import {
  Controller,
  Injectable,
  Module,
  Post,
  type INestApplication,
  type ModuleMetadata,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { Registry, type Counter } from 'prom-client';
import request from 'supertest';

import {
  IpcMetricsStore,
  RedisMetricsModule,
  RedisMetricsService,
  RedisMultiProcessCollector,
  RedisStorageManager,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { startPrivateRedis } from '../harness/redis-server.mjs';
import { waitFor } from '../harness/writer-processes.js';

type PrivateRedis = Awaited<ReturnType<typeof startPrivateRedis>>;

const primaryFixture = new URL('../fixtures/ipc-primary.mjs', import.meta.url).pathname;
const losingPrimaryFixture = new URL('../fixtures/ipc-losing-primary.mjs', import.meta.url)
  .pathname;

/** Tells a forked primary fixture `command` and waits for its answer `reply`. */
function tellPrimary(
  primary: ChildProcess,
  command: string,
  reply: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const listen = (message: { fixture?: string }) => {
      if (message?.fixture !== reply) return;
      primary.off('message', listen);
      resolve(message);
    };
    primary.on('message', listen);
    primary.send({ fixture: command });
  });
}

async function startApp(imports: ModuleMetadata['imports']): Promise<INestApplication> {
  @Module({ imports })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

describe('lifecycle, configuration styles and Redis outages, on a private Redis', () => {
  let redis: PrivateRedis;
  let client: Redis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  const baseOptions = (keyPrefix: string): RedisMetricsModuleOptions => ({
    url: redis.url,
    keyPrefix,
    registry: new Registry(),
    flushIntervalMs: 100,
    livenessWindowMs: 1000,
    ttlSeconds: 5,
  });

  async function countOnce(app: INestApplication, name: string): Promise<string | undefined> {
    app.get(RedisMetricsService).counter({ name, help: name }).inc();
    await app.get(RedisMetricsService).flush();
    const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
    return text.split('\n').find((line) => line.startsWith(`${name} `));
  }

  it('works configured by forRootAsync with useFactory', async () => {
    const app = await startApp([
      RedisMetricsModule.forRootAsync({ useFactory: async () => baseOptions('factory') }),
    ]);
    try {
      expect(await countOnce(app, 'factory_total')).toBe('factory_total 1');
      expect(app.get(RedisMultiProcessCollector)).toBeInstanceOf(RedisMultiProcessCollector);
    } finally {
      await app.close();
    }
  });

  it('works configured by forRootAsync with useClass and with injected ConfigService', async () => {
    @Injectable()
    class MetricsOptionsFactory {
      constructor(private readonly config: ConfigService) {}
      create(): RedisMetricsModuleOptions {
        return { ...baseOptions(this.config.getOrThrow<string>('PREFIX')) };
      }
    }
    const app = await startApp([
      RedisMetricsModule.forRootAsync({
        imports: [
          ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ PREFIX: 'by-class' })] }),
        ],
        useClass: MetricsOptionsFactory,
      }),
    ]);
    try {
      expect(app.get(RedisStorageManager).options.keyPrefix).toBe('by-class');
      expect(await countOnce(app, 'by_class_total')).toBe('by_class_total 1');
    } finally {
      await app.close();
    }
  });

  it('counts once what an app closed and started again in one process had counted: the registry keeps its counts', async () => {
    // An app per test, or a restart in one process: one registry, so prom-client's counter goes 1, 2, 3.
    const options = baseOptions('again');
    const observe = (app: INestApplication) =>
      app
        .get(RedisMetricsService)
        .histogram({ name: 'again_seconds', help: 'again', buckets: [1] })
        .observe(0.5);
    const scraped: string[][] = [];
    for (let run = 0; run < 3; run += 1) {
      const app = await startApp([RedisMetricsModule.forRoot(options)]);
      try {
        observe(app);
        await countOnce(app, 'again_total');
        const text = (await request(app.getHttpServer()).get('/metrics').expect(200)).text;
        scraped.push(text.split('\n').filter((line) => /^again_(total|seconds_count) /.test(line)));
      } finally {
        await app.close();
      }
    }
    expect(scraped).toEqual([
      ['again_seconds_count 1', 'again_total 1'],
      ['again_seconds_count 2', 'again_total 2'],
      ['again_seconds_count 3', 'again_total 3'],
    ]);
    // What Redis holds after the last app ended, read by a collector of its own.
    const families = await RedisMultiProcessCollector.mergeFromRedis(client, 'again');
    const total = families.find((family) => family.name === 'again_total');
    expect(total?.samples).toEqual([{ name: 'again_total', labels: {}, value: 3 }]);
  });

  it('counts whole what an app started again counted after the registry was reset or cleared, though it came back to the same value', async () => {
    // Tests often reset the registry between apps: each app's 1 is a count of its own.
    const options = baseOptions('again-reset');
    const between = [
      () => undefined,
      () => options.registry!.resetMetrics(),
      () => options.registry!.clear(),
    ];
    const scraped: (string | undefined)[] = [];
    for (const before of between) {
      before();
      const app = await startApp([RedisMetricsModule.forRoot(options)]);
      try {
        scraped.push(await countOnce(app, 'again_reset_total'));
      } finally {
        await app.close();
      }
    }
    expect(scraped).toEqual(['again_reset_total 1', 'again_reset_total 2', 'again_reset_total 3']);
  });

  it('counts whole what an app started again counted when Redis was flushed after the earlier app closed', async () => {
    // Redis restarted empty (or FLUSHDB) between the apps no longer holds the first app's 1.
    const options = baseOptions('again-flushed');
    const scraped: (string | undefined)[] = [];
    for (let run = 0; run < 2; run += 1) {
      if (run === 1) await client.flushdb();
      const app = await startApp([RedisMetricsModule.forRoot(options)]);
      try {
        scraped.push(await countOnce(app, 'again_flushed_total'));
      } finally {
        await app.close();
      }
    }
    // The registry's 2, as a live process repairs its part after a flush; going on from 1 showed 1.
    expect(scraped).toEqual(['again_flushed_total 1', 'again_flushed_total 2']);
    const families = await RedisMultiProcessCollector.mergeFromRedis(client, 'again-flushed');
    const total = families.find((family) => family.name === 'again_flushed_total');
    expect(total?.samples).toEqual([{ name: 'again_flushed_total', labels: {}, value: 2 }]);
  });

  it("counts once what an app closed and started again had counted, with a client of the user's made anew per app", async () => {
    // One registry for both apps; the client, not a URL, says where Redis is.
    const options = baseOptions('again-client');
    delete options.url;
    const scraped: (string | undefined)[] = [];
    for (let run = 0; run < 2; run += 1) {
      const own = new Redis(redis.url);
      const app = await startApp([RedisMetricsModule.forRoot({ ...options, client: own })]);
      try {
        scraped.push(await countOnce(app, 'again_client_total'));
      } finally {
        await app.close();
        own.disconnect();
      }
    }
    expect(scraped).toEqual(['again_client_total 1', 'again_client_total 2']);
  });

  it.each([
    ['its last flush was in flight', false],
    ['a flush before had timed out', true],
  ])(
    "counts once what an app started again counted when Redis stalled at the earlier app's close and applied its writes later: %s",
    async (_, timedOut) => {
      // The user's client outlives the apps: the writes wait in Redis while the app gives up on their
      // replies, and the first of them is applied once the pause ends (the others expect an earlier one).
      const own = new Redis(redis.url, timedOut ? { commandTimeout: 200 } : {});
      const admin = new Redis(redis.url);
      try {
        const prefix = timedOut ? 'again-timed-out' : 'again-stalled';
        const options = { ...baseOptions(prefix), client: own, scrapeTimeoutMs: 300 };
        delete options.url;
        const scraped: (string | undefined)[] = [];
        const first = await startApp([RedisMetricsModule.forRoot(options)]);
        scraped.push(await countOnce(first, 'again_stalled_total'));
        first.get(RedisMetricsService).counter({ name: 'again_stalled_total', help: 'x' }).inc();
        await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
        if (timedOut) {
          expect((await first.get(RedisMetricsService).flush())?.ok).toBe(false);
        }
        await first.close();
        const second = await startApp([RedisMetricsModule.forRoot(options)]);
        try {
          await admin.ping(); // answered once the pause is over
          scraped.push(await countOnce(second, 'again_stalled_total'));
        } finally {
          await second.close();
        }
        // The registry's 3. Before, 4 (going on from the acknowledged 1 while Redis applied the 2) or 5
        // (nothing handed over for a timed-out write: the registry's 3 counted whole).
        expect(scraped).toEqual(['again_stalled_total 1', 'again_stalled_total 3']);
        const families = await RedisMultiProcessCollector.mergeFromRedis(client, prefix);
        const total = families.find((family) => family.name === 'again_stalled_total');
        expect(total?.samples).toEqual([{ name: 'again_stalled_total', labels: {}, value: 3 }]);
      } finally {
        own.disconnect();
        admin.disconnect();
      }
    },
  );

  it('counts once what an app started again counted with an IpcMetricsStore made anew per app, as the sample makes it', async () => {
    // Each IpcMetricsStore of a worker reaches the one store of its cluster primary.
    const primary = fork(primaryFixture, [], { stdio: 'inherit' });
    try {
      const options = baseOptions('again-ipc');
      delete options.url;
      const scraped: (string | undefined)[] = [];
      for (let run = 0; run < 2; run += 1) {
        const store = new IpcMetricsStore(primary as unknown as NodeJS.Process);
        const app = await startApp([RedisMetricsModule.forRoot({ ...options, store })]);
        try {
          scraped.push(await countOnce(app, 'again_ipc_total'));
        } finally {
          await app.close();
        }
      }
      expect(scraped).toEqual(['again_ipc_total 1', 'again_ipc_total 2']);
    } finally {
      primary.kill();
    }
  });

  it("counts once what an app started again counted with an IpcMetricsStore when the earlier app's last write was unanswered at its close and never applied", async () => {
    const primary = fork(losingPrimaryFixture, [], { stdio: 'inherit' });
    try {
      // No flush but those the test makes, and a shutdown that gives up on the held write soon.
      const options = {
        ...baseOptions('lost-ipc'),
        flushIntervalMs: 60_000,
        livenessWindowMs: 120_000,
        ttlSeconds: 300,
        scrapeTimeoutMs: 300,
      };
      delete options.url;
      const newStore = () => new IpcMetricsStore(primary as unknown as NodeJS.Process);
      const scraped: (string | undefined)[] = [];
      const first = await startApp([RedisMetricsModule.forRoot({ ...options, store: newStore() })]);
      scraped.push(await countOnce(first, 'lost_ipc_total'));
      first.get(RedisMetricsService).counter({ name: 'lost_ipc_total', help: 'x' }).inc();
      await tellPrimary(primary, 'holdNextWrite', 'holding');
      await first.close();
      // The write of the 2 fails in the primary after the app gave up on it: the store holds the 1.
      const lost = await tellPrimary(primary, 'loseHeldWrite', 'lost');
      const second = await startApp([
        RedisMetricsModule.forRoot({ ...options, store: newStore() }),
      ]);
      try {
        scraped.push(await countOnce(second, 'lost_ipc_total'));
      } finally {
        await second.close();
      }

      expect(lost).toEqual({ fixture: 'lost', held: true });
      // The registry's 3. Before, 2: the IPC store could not tell, and the next app went on from the
      // 2 of the write that was never applied.
      expect(scraped).toEqual(['lost_ipc_total 1', 'lost_ipc_total 3']);
    } finally {
      primary.kill();
    }
  });

  it('reports 503 within seconds of Redis going away, 200 once it is back, and keeps what was counted meanwhile', async () => {
    const app = await startApp([RedisMetricsModule.forRoot(baseOptions('outage'))]);
    // The same app with the old behaviour asked for: its own registry while Redis is away.
    const local = await startApp([
      RedisMetricsModule.forRoot({ ...baseOptions('outage'), scrapeFallback: 'local' }),
    ]);
    const server = app.getHttpServer();
    const metrics = app.get(RedisMetricsService);
    const counter: Counter = metrics.counter({
      name: 'outage_total',
      help: 'Counted across an outage',
    });
    try {
      counter.inc();
      local.get(RedisMetricsService).counter({ name: 'outage_total', help: 'Counted' }).inc(7);
      await metrics.flush();
      await local.get(RedisMetricsService).flush();
      await waitFor(
        async () => (await request(server).get('/metrics/health')).body.liveProcesses === 2,
      );

      await redis.stop();
      const stoppedAt = Date.now();
      await waitFor(async () => (await request(server).get('/metrics/health')).status === 503);
      const degradedAfter = Date.now() - stoppedAt;
      counter.inc(2); // counted while Redis is down
      const duringOutage = await request(server).get('/metrics').expect(503);
      const localDuringOutage = await request(local.getHttpServer()).get('/metrics').expect(200);
      const health = await request(server).get('/metrics/health').expect(503);

      await redis.start();
      await waitFor(async () => (await request(server).get('/metrics/health')).status === 200);

      expect(degradedAfter).toBeLessThan(3000);
      // What the store counted at this process's last write, kept while Redis is away.
      expect(health.body).toMatchObject({ status: 'degraded', liveProcesses: 2 });
      // Never this process's own value in place of the merged one: Prometheus would see a reset.
      expect(duringOutage.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(duringOutage.text).toMatch(
        /^the metrics of every process could not be read from Redis under prefix "[^"]+": .+\n$/,
      );
      // fallback: 'local' serves that process's own 7, not the merged 10.
      expect(localDuringOutage.text).toContain('\noutage_total 7\n');
      // The restarted Redis is empty: the process writes everything it counted again, and the scrape
      // answers again once every live process had time to write (two flush intervals).
      await waitFor(
        async () => (await client.hget('{outage}:totals', '["outage_total",{}]')) === 'v 10',
      );
      await waitFor(async () => (await request(server).get('/metrics')).status === 200);
      expect((await request(server).get('/metrics').expect(200)).text).toContain(
        '\noutage_total 10\n',
      );
    } finally {
      await app.close();
      await local.close();
    }
  });

  it('starts with Redis unreachable without waiting for it, answers 503, then connects and writes everything once Redis is up', async () => {
    await redis.stop();
    const startedAt = Date.now();
    const app = await startApp([RedisMetricsModule.forRoot(baseOptions('late'))]);
    const bootstrapMs = Date.now() - startedAt;
    try {
      const server = app.getHttpServer();
      app.get(RedisMetricsService).counter({ name: 'late_total', help: 'late' }).inc(5);
      await request(server).get('/metrics/health').expect(503);
      await request(server).get('/metrics').expect(503);

      await redis.start();
      await waitFor(async () => (await request(server).get('/metrics/health')).status === 200);
      await app.get(RedisMetricsService).flush();

      // Under set-up's 3 s wait for a connection, with room for a loaded machine.
      expect(bootstrapMs).toBeLessThan(2500);
      expect(await client.hget('{late}:totals', '["late_total",{}]')).toBe('v 5');
      expect((await request(server).get('/metrics').expect(200)).text).toContain(
        '\nlate_total 5\n',
      );
    } finally {
      await app.close();
    }
  });

  it('leaves no open handles after app.close(), and ends the process with its counts kept', async () => {
    const resources = () =>
      process
        .getActiveResourcesInfo()
        .filter((r) => r !== 'TTYWrap')
        .sort();
    const before = resources();
    const app = await startApp([RedisMetricsModule.forRoot(baseOptions('handles'))]);
    await countOnce(app, 'handles_total');
    const id = app.get(RedisStorageManager).identity.id;

    await app.close();
    await new Promise((resolve) => setImmediate(resolve));

    expect(resources()).toEqual(before);
    expect(await client.zscore('{handles}:processes', id)).toBeNull();
    expect(await client.hget('{handles}:totals', '["handles_total",{}]')).toBe('v 1');
    expect(await client.exists(`{handles}:gauges:${id}`, `{handles}:counters:${id}`)).toBe(0);
  });
  it('delivers the counts of a process closed right after it started, still connecting', async () => {
    // A script, a job or a test: init(), count, close() at once.
    const app = await startApp([RedisMetricsModule.forRoot(baseOptions('short'))]);
    app.get(RedisMetricsService).counter({ name: 'short_total', help: 'Short' }).inc(5);

    await app.close();

    expect(await client.hget('{short}:totals', '["short_total",{}]')).toBe('v 5');
  });

  it('counts a request that finishes while the app closes: the last flush comes after the HTTP server closed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    @Controller()
    class SlowController {
      private readonly done: Counter;
      constructor(metrics: RedisMetricsService) {
        this.done = metrics.counter({ name: 'slow_total', help: 'Slow requests done' });
      }
      @Post('slow')
      async slow(): Promise<string> {
        started = true;
        await gate;
        this.done.inc();
        return 'done';
      }
    }
    @Module({
      imports: [RedisMetricsModule.forRoot(baseOptions('closing'))],
      controllers: [SlowController],
    })
    class SlowAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [SlowAppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as { port: number };

    const answer = fetch(`http://127.0.0.1:${port}/slow`, {
      method: 'POST',
      headers: { connection: 'close' },
    });
    await waitFor(() => started);
    const closing = app.close();
    // Nest runs the shutdown hooks before it closes the server, which waits for this request.
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    const response = await answer;
    expect(response.status).toBe(201);
    expect(await response.text()).toBe('done');
    await closing;

    expect(await client.hget('{closing}:totals', '["slow_total",{}]')).toBe('v 1');
  });
});
