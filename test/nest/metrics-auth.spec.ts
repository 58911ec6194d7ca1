import 'reflect-metadata';

import { jest } from '@jest/globals';
import {
  Get,
  Headers,
  Injectable,
  Module,
  Res,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type LoggerService,
} from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';

import {
  RedisMetricsController,
  RedisMetricsModule,
  RedisMetricsService,
  type HttpReply,
  type RequestHeaders,
  type RedisMetricsModuleExtras,
  type RedisMetricsModuleOptions,
} from '../../src/index.js';
import { startPrometheusJobs } from '../harness/prometheus-server.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';
import { settledReading } from '../harness/writer-processes.js';

const TOKEN = 'scrape-token-7f3a';
const USER = 'prometheus';
const PASSWORD = 'basic-secret-91c2';

/** The sample lines of the HTTP request metrics in an exposition, and the exposition without them. */
function splitRequestMetrics(text: string): { samples: string[]; rest: string } {
  const lines = text.split('\n');
  const isRequestMetric = (line: string | undefined) =>
    line !== undefined && /^(# (HELP|TYPE) )?http_request/.test(line);
  // prom-client's text format ends each metric family with a blank line: it goes with the family.
  const dropped = (line: string, index: number) =>
    isRequestMetric(line) || (line === '' && isRequestMetric(lines[index - 1]));
  return {
    samples: lines.filter((line) => isRequestMetric(line) && !line.startsWith('#')),
    rest: lines.filter((line, index) => !dropped(line, index)).join('\n'),
  };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Every line the app logs, to show no secret is ever in one. */
class RecordingLogger implements LoggerService {
  readonly lines: string[] = [];
  log = (...args: unknown[]) => void this.lines.push(args.map(String).join(' '));
  error = this.log;
  warn = this.log;
  debug = this.log;
  verbose = this.log;
}

/** A guard of the user's: lets a request in only from the "internal" network, told by a header. */
@Injectable()
class InternalOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string> }>();
    return req.headers['x-internal'] === 'yes';
  }
}

/** A replaced controller: its own metrics route, a guard of its own, the inherited health route. */
@UseGuards(InternalOnlyGuard)
class CustomMetricsController extends RedisMetricsController {
  @Get('internal/metrics')
  override async metrics(
    @Headers() headers: RequestHeaders,
    @Res({ passthrough: true }) reply: HttpReply,
  ): Promise<string> {
    return `# served by the custom controller\n${await super.metrics(headers, reply)}`;
  }
}

type Adapter = 'express' | 'fastify';

// A real Prometheus: up to 20 s to start, then up to 20 s for its scrapes to settle.
jest.setTimeout(60_000);

describe('protection of the metrics and health routes', () => {
  let client: Redis;
  const prefixes: string[] = [];
  const loggers: RecordingLogger[] = [];

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
    await client.quit();
    // No secret in any log line of any app of this file.
    const logged = loggers.flatMap((logger) => logger.lines).join('\n');
    for (const secret of [TOKEN, PASSWORD, Buffer.from(`${USER}:${PASSWORD}`).toString('base64')]) {
      expect(logged).not.toContain(secret);
    }
  });

  async function startApp(
    options: RedisMetricsModuleOptions,
    extras: RedisMetricsModuleExtras = {},
    adapter: Adapter = 'express',
  ): Promise<INestApplication> {
    const prefix = uniquePrefix('auth');
    prefixes.push(prefix);
    @Module({
      imports: [
        RedisMetricsModule.forRoot({
          url: testRedisUrl(),
          keyPrefix: prefix,
          registry: new Registry(),
          defaultMetrics: false,
          ...options,
          ...extras,
        }),
      ],
    })
    class AppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const logger = new RecordingLogger();
    loggers.push(logger);
    const app =
      adapter === 'fastify'
        ? moduleRef.createNestApplication(new FastifyAdapter(), { logger })
        : moduleRef.createNestApplication({ logger });
    await app.init();
    if (adapter === 'fastify') await app.getHttpAdapter().getInstance().ready();
    app.get(RedisMetricsService).counter({ name: 'scraped_total', help: 'Scraped' }).inc(4);
    await app.get(RedisMetricsService).flush();
    return app;
  }

  /** The message of the error that stops an app with these options from starting, if any. */
  async function refusalOf(
    options: RedisMetricsModuleOptions,
    extras: RedisMetricsModuleExtras = {},
  ): Promise<string | undefined> {
    try {
      await (await startApp(options, extras)).close();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  describe.each<Adapter>(['express', 'fastify'])('on %s', (adapter) => {
    it('answers 401 without or with wrong credentials and 200 with the bearer token or basic auth', async () => {
      const app = await startApp(
        { auth: { bearerToken: TOKEN, basic: { username: USER, password: PASSWORD } } },
        {},
        adapter,
      );
      const server = app.getHttpServer();
      try {
        for (const path of ['/metrics', '/metrics/health']) {
          const none = await request(server).get(path).expect(401);
          expect(none.headers['www-authenticate']).toBe('Basic realm="metrics", charset="UTF-8"');
          expect(JSON.stringify(none.body)).not.toContain(TOKEN);
          for (const wrong of [
            `Bearer ${TOKEN}x`,
            'Bearer ',
            basic(USER, `${PASSWORD}x`),
            basic(`${USER}x`, PASSWORD),
            basic(USER, ''),
            'Basic not-base64',
            TOKEN,
          ]) {
            await request(server).get(path).set('Authorization', wrong).expect(401);
          }
          await request(server).get(path).set('Authorization', `Bearer ${TOKEN}`).expect(200);
          await request(server).get(path).set('Authorization', basic(USER, PASSWORD)).expect(200);
        }
        const scrape = await request(server)
          .get('/metrics')
          .set('Authorization', `bearer ${TOKEN}`)
          .expect(200);
        const { samples, rest } = splitRequestMetrics(scrape.text);
        expect(rest).toBe(
          '# HELP scraped_total Scraped\n# TYPE scraped_total counter\nscraped_total 4\n',
        );
        // The module's own routes are not counted, answered or turned away; they were in flight.
        expect(samples).toEqual(['http_requests_in_flight{method="GET"} 0']);
      } finally {
        await app.close();
      }
    });
  });

  it('refuses at start-up basic credentials with an empty password, which would let in anyone who sends the user name', async () => {
    // Before, the app started and `Basic ${base64('prometheus:')}` got 200.
    expect(await refusalOf({ auth: { basic: { username: USER, password: '' } } })).toBe(
      'nestjs-redis-metrics: option "auth" has basic credentials with an empty password, which anyone who sends the user name would pass',
    );
  });

  it('refuses at start-up credentials no scraper can send, which would turn every scrape away', async () => {
    // Before, the app started and answered 401 to `Bearer tök-1` as curl and Prometheus send it (UTF-8)
    // and to `Basic ${base64('scrape:er:' + PASSWORD)}`, where the first ":" ends the user name.
    expect(await refusalOf({ auth: { bearerToken: 'tök-1' } })).toBe(
      'nestjs-redis-metrics: option "auth" has a bearerToken with a character outside printable ASCII: scrapers send it as UTF-8, which the routes read as Latin-1, so it would never match',
    );
    expect(
      await refusalOf({ auth: { basic: { username: 'scrape:er', password: PASSWORD } } }),
    ).toBe(
      'nestjs-redis-metrics: option "auth" has a basic username with a ":", which Basic auth cannot carry (the first ":" ends the user name)',
    );
  });

  it('refuses at start-up an auth option beside controller: false, where it would guard no route', async () => {
    // Before, the app started: the routes served with RedisStorageManager were open, auth or not, and
    // MetricsAuthGuard cannot be put on them (the module's options are not exported).
    expect(await refusalOf({ auth: { bearerToken: TOKEN } }, { controller: false })).toBe(
      'nestjs-redis-metrics: option "auth" guards only the module\'s own routes, and controller: false serves none: guard the routes you serve with guards of your own, and leave auth out',
    );
  });

  it('challenges for a bearer token when only a token is configured', async () => {
    const app = await startApp({ auth: { bearerToken: TOKEN } });
    try {
      const response = await request(app.getHttpServer())
        .get('/metrics')
        .set('Authorization', basic(USER, PASSWORD))
        .expect(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    } finally {
      await app.close();
    }
  });

  it('keeps auth and runs its own guards on a replaced controller class', async () => {
    const app = await startApp(
      { auth: { bearerToken: TOKEN } },
      { controller: CustomMetricsController },
    );
    const server = app.getHttpServer();
    const bearer = `Bearer ${TOKEN}`;
    try {
      // The overridden route is where its decorator says; the default path is gone.
      await request(server)
        .get('/metrics')
        .set('Authorization', bearer)
        .set('x-internal', 'yes')
        .expect(404);
      for (const path of ['/internal/metrics', '/metrics/health']) {
        await request(server).get(path).set('x-internal', 'yes').expect(401);
        await request(server)
          .get(path)
          .set('Authorization', `Bearer nope`)
          .set('x-internal', 'yes')
          .expect(401);
        await request(server).get(path).set('Authorization', bearer).expect(403);
        await request(server)
          .get(path)
          .set('Authorization', bearer)
          .set('x-internal', 'yes')
          .expect(200);
      }
      const text = (
        await request(server)
          .get('/internal/metrics')
          .set('Authorization', bearer)
          .set('x-internal', 'yes')
      ).text;
      const { samples, rest } = splitRequestMetrics(text);
      expect(rest).toBe(
        '# served by the custom controller\n# HELP scraped_total Scraped\n# TYPE scraped_total counter\nscraped_total 4\n',
      );
      // Only the request to the path the route left, which no route answers now.
      expect(samples.filter((line) => line.startsWith('http_requests_total'))).toEqual([
        'http_requests_total{method="GET",route="<unmatched>",status_code="404"} 1',
      ]);
    } finally {
      await app.close();
    }
  });

  it('runs the guards of the guards extra in front of both routes, and serves no health route with healthPath: false', async () => {
    const app = await startApp({}, { guards: [InternalOnlyGuard], healthPath: false });
    const server = app.getHttpServer();
    try {
      await request(server).get('/metrics').expect(403);
      await request(server).get('/metrics').set('x-internal', 'yes').expect(200);
      await request(server).get('/metrics/health').set('x-internal', 'yes').expect(404);
    } finally {
      await app.close();
    }
  });

  it('lets a real Prometheus scrape with authorization and with basic_auth (up == 1), and not with a wrong password', async () => {
    const app = await startApp({
      auth: { bearerToken: TOKEN, basic: { username: USER, password: PASSWORD } },
    });
    await app.listen(0, '127.0.0.1');
    const target = `${await app.getUrl()}/metrics`;
    const prometheus = await startPrometheusJobs([
      { name: 'bearer', target, bearerToken: TOKEN },
      { name: 'basic', target, basicAuth: { username: USER, password: PASSWORD } },
      { name: 'wrong', target, basicAuth: { username: USER, password: 'wrong' } },
    ]);
    try {
      const expected = {
        up: { bearer: '1', basic: '1', wrong: '0' },
        errors: { bearer: '', basic: '', wrong: 'server returned HTTP status 401 Unauthorized' },
        scraped: [
          ['basic', '4'],
          ['bearer', '4'],
        ],
      };
      const reading = await settledReading(
        async () => ({
          up: Object.fromEntries(
            (await prometheus.query('up')).map((sample) => [sample.metric.job, sample.value[1]]),
          ),
          errors: Object.fromEntries(
            (await prometheus.targets()).map((t) => [t.labels.job, t.lastError]),
          ),
          scraped: (await prometheus.query('scraped_total'))
            .map((s) => [s.metric.job, s.value[1]])
            .sort(),
        }),
        expected,
      );
      expect(reading).toEqual(expected);
    } finally {
      await prometheus.stop();
      await app.close();
    }
  });
});
