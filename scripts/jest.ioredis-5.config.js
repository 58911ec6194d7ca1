// The jest configuration with `ioredis` mapped to another install (IOREDIS_DIR, an ioredis 5 made by
// scripts/test-consumer-app.sh), so the Redis-facing specs run against ioredis 5 without a copy of the
// repository. Tests and source import ioredis through jest's resolver, so both get the mapped one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import base from '../jest.config.js';

const dir = process.env.IOREDIS_DIR;
if (!dir) throw new Error('IOREDIS_DIR must name the ioredis package directory to test against');
const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
process.stdout.write(`Testing against ioredis ${version} from ${dir}\n`);

export default {
  ...base,
  rootDir: new URL('..', import.meta.url).pathname,
  moduleNameMapper: { '^ioredis$': dir, ...base.moduleNameMapper },
};
