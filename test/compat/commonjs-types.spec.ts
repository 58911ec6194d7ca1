import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import ts from 'typescript';

import { packageTypeErrors } from '../harness/package-types.js';

const root = new URL('../../', import.meta.url).pathname;

/** Each subpath used with the main entry: a type of one entry handed to the other must be the same. */
const APP = `import { RedisMetricsModule, type RedisStorageManager } from 'nestjs-redis-metrics';
import { redisMetricsConfig } from 'nestjs-redis-metrics/config';
import { RedisMetricsHealthIndicator } from 'nestjs-redis-metrics/terminus';

export const metricsModule = RedisMetricsModule.forRootAsync(redisMetricsConfig.asProvider());

export function indicatorOf(
  manager: RedisStorageManager,
  indicators: ConstructorParameters<typeof RedisMetricsHealthIndicator>[1],
): RedisMetricsHealthIndicator {
  return new RedisMetricsHealthIndicator(manager, indicators);
}
`;

// A TypeScript program over the built package's declarations: slower than a unit test.
const TIMEOUT_MS = 60_000;

describe("the package's declarations in a CommonJS app", () => {
  // Inside the repository, so `nestjs-redis-metrics` resolves to this package by its own name, through
  // `exports`, as an installed one does. Needs `npm run build` (the pretest step).
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(root, '.commonjs-types-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'type-check on nodenext, the subpaths taking the declarations of the require condition the main entry takes',
    () => {
      // A .cts file is CommonJS whatever the package says, as a CommonJS app on `module: nodenext`
      // (no "type": "module"): its imports take the `require` condition.
      const app = join(dir, 'app.cts');
      writeFileSync(app, APP);
      expect(packageTypeErrors(app, { skipLibCheck: true })).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    'type-check with skipLibCheck off on ES2021, the target of apps made by older Nest CLIs',
    () => {
      const app = join(dir, 'es2021-app.cts');
      writeFileSync(app, APP);
      expect(
        packageTypeErrors(app, { target: ts.ScriptTarget.ES2021, skipLibCheck: false }),
      ).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
