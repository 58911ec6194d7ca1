import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';

import type { Redis } from 'ioredis';

import { PrefixKeys, seriesField } from '../../src/index.js';
import {
  connectTestRedis,
  deletePrefix,
  testRedisUrl,
  uniquePrefix,
} from '../harness/test-redis.js';

const run = promisify(execFile);
const fixture = new URL('../fixtures/counting-process.mjs', import.meta.url).pathname;

interface ChildReport {
  id: string;
  pid: number;
  ok: boolean;
}

async function countInChild(env: Record<string, string>): Promise<ChildReport> {
  const { stdout } = await run(process.execPath, [fixture], {
    env: { ...process.env, REDIS_URL: testRedisUrl(), ...env },
  });
  return JSON.parse(stdout) as ChildReport;
}

describe('per-process storage with real child processes', () => {
  let client: Redis;
  const prefix = uniquePrefix('identity:a');
  const keys = new PrefixKeys(prefix);
  const field = seriesField('jobs_done', { kind: 'mail' });

  beforeAll(() => {
    client = connectTestRedis();
  });
  afterAll(async () => {
    await deletePrefix(client, prefix);
    await client.quit();
  });

  /** What a process last wrote of the counter (its own part, kept for the write script). */
  async function storedCount(id: string): Promise<string | null> {
    return client.hget(keys.counters(id), field);
  }

  it('keeps each process separate: same host and prefix, same pid on other hosts, a reused pid', async () => {
    const reports = await Promise.all([
      countInChild({ KEY_PREFIX: prefix, INCREMENTS: '3' }),
      countInChild({ KEY_PREFIX: prefix, INCREMENTS: '5' }),
      countInChild({ KEY_PREFIX: prefix, INCREMENTS: '7', FAKE_HOSTNAME: 'pod-a', FAKE_PID: '7' }),
      countInChild({ KEY_PREFIX: prefix, INCREMENTS: '11', FAKE_HOSTNAME: 'pod-b', FAKE_PID: '7' }),
      // A pid reused on the same host (a restarted worker) is still another process.
      countInChild({ KEY_PREFIX: prefix, INCREMENTS: '13', FAKE_HOSTNAME: 'pod-a', FAKE_PID: '7' }),
    ]);

    expect(reports.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(new Set(reports.map((r) => r.id)).size).toBe(5);
    expect(reports[0].id.startsWith(`${hostname()}/${reports[0].pid}/`)).toBe(true);
    expect(reports[2].id.startsWith('pod-a/7/')).toBe(true);
    expect(reports[3].id.startsWith('pod-b/7/')).toBe(true);

    expect((await client.zrange(keys.processes, '0', '-1')).sort()).toEqual(
      reports.map((r) => r.id).sort(),
    );
    expect(await Promise.all(reports.map((r) => storedCount(r.id)))).toEqual([
      'v 3',
      'v 5',
      'v 7',
      'v 11',
      'v 13',
    ]);
    expect(await client.hget(keys.totals, field)).toBe('v 39');
    expect(JSON.parse((await client.hget(keys.processInfo, reports[3].id))!)).toMatchObject({
      pid: 7,
      hostname: 'pod-b',
    });
  });
});
