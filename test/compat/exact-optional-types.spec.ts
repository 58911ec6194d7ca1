import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageTypeErrors } from '../harness/package-types.js';

const root = new URL('../../', import.meta.url).pathname;

/**
 * The options an app builds from the environment, as the README does (`url: process.env.REDIS_URL`,
 * `auth: readMetricsAuthFromEnv()`): a setting given as `undefined` counts as not given, and the types
 * say so, also under `exactOptionalPropertyTypes`.
 */
const APP = `import {
  readMetricsAuthFromEnv,
  resolveRedisMetricsOptions,
  RedisMetricsModule,
  type RedisMetricsModuleOptions,
} from 'nestjs-redis-metrics';

const port = process.env.REDIS_PORT;

export const fromEnv = RedisMetricsModule.forRoot({
  url: process.env.REDIS_URL,
  auth: readMetricsAuthFromEnv(),
  port: port === undefined ? undefined : Number(port),
  customMetricPrefix: process.env.METRICS_PREFIX,
});

export const made = (): RedisMetricsModuleOptions => ({
  password: process.env.REDIS_PASSWORD,
  defaultMetrics: undefined,
  gaugeModes: undefined,
});

export const resolved = resolveRedisMetricsOptions({ url: process.env.REDIS_URL, db: undefined });

// A wrong type is still one.
// @ts-expect-error a port is a number
RedisMetricsModule.forRoot({ port: process.env.REDIS_PORT });
// @ts-expect-error an unknown option
RedisMetricsModule.forRoot({ urll: process.env.REDIS_URL });
`;

// A TypeScript program over the built package's declarations: slower than a unit test.
const TIMEOUT_MS = 60_000;

describe("the package's declarations in an app with exactOptionalPropertyTypes", () => {
  // Inside the repository, so `nestjs-redis-metrics` resolves to this package by its own name, through
  // `exports`. Needs `npm run build` (the pretest step).
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(root, '.exact-optional-types-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'take options given as undefined, as read from the environment',
    () => {
      const app = join(dir, 'app.mts');
      writeFileSync(app, APP);
      expect(
        packageTypeErrors(app, {
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
        }),
      ).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
