import { jest } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import ts from 'typescript';

import { freePort, startPrivateRedis } from '../harness/redis-server.mjs';
import { waitFor } from '../harness/writer-processes.js';

const root = new URL('../../', import.meta.url).pathname;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The fenced blocks of one language in the README, in order. */
function blocks(language: string): string[] {
  return [...readme.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map(
    (match) => match[1],
  );
}

/**
 * Where a `ts` block goes: `// file: src/x.ts` on its first line puts it into the Quick start app under
 * that path (its blocks import each other); every other block is a module of its own.
 */
function layout(): Map<string, string> {
  const files = new Map<string, string>();
  blocks('ts').forEach((code, index) => {
    const named = /^\/\/ file: (\S+)\n/.exec(code);
    files.set(named ? join('quick-start', named[1]) : `snippets/snippet-${index + 1}.ts`, code);
  });
  return files;
}

// A TypeScript program over the package's types, and real processes: slower than a unit test.
jest.setTimeout(90_000);

describe('the README', () => {
  // Inside the repository, so `nestjs-redis-metrics` resolves to this package (its own name, through
  // `exports`, as the built package in dist/) and its dependencies to node_modules.
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(root, '.readme-snippets-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('has ts blocks that all compile against the built package, and a Quick start app that runs', async () => {
    const files = layout();
    expect([...files.keys()].filter((path) => path.startsWith('quick-start/'))).toEqual([
      'quick-start/src/orders.service.ts',
      'quick-start/src/orders.controller.ts',
      'quick-start/src/app.module.ts',
      'quick-start/src/main.ts',
      'quick-start/src/cluster.ts',
    ]);
    for (const [path, code] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), code);
    }
    const program = ts.createProgram(
      [...files.keys()].map((path) => join(dir, path)),
      {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        skipLibCheck: true,
        types: ['node'],
        rootDir: dir,
        outDir: join(dir, 'out'),
      },
    );
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.slice(dir.length + 1)}: ` : '';
      return `${where}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(diagnostics).toEqual([]);
    program.emit();

    // The node:cluster app without Redis, run as it is: its primary serves the store and forks its
    // workers, which load the same file (the IPC channel keeps them alive), and nothing throws in
    // either: still running, silent, when stopped after 5 s.
    const [withoutRedis] = [...files].filter(([, code]) => code.includes('serveMetricsStore('));
    const ran = spawnSync(
      process.execPath,
      [join(dir, 'out', withoutRedis[0].replace(/\.ts$/, '.js'))],
      { encoding: 'utf8', timeout: 5000 },
    );
    expect({ signal: ran.signal, stderr: ran.stderr }).toEqual({ signal: 'SIGTERM', stderr: '' });

    // The Quick start as a user runs it: count, stop with SIGTERM at once, and the counts are in Redis.
    const redis = await startPrivateRedis();
    const run = async (script = 'main.js', env: Record<string, string> = {}) => {
      const port = await freePort();
      const child: ChildProcess = spawn(
        process.execPath,
        [join(dir, 'out/quick-start/src', script)],
        {
          env: { ...process.env, REDIS_URL: redis.url, PORT: String(port), ...env },
          stdio: 'ignore',
        },
      );
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${url}/metrics`).catch(() => undefined))?.ok === true,
        30_000,
      );
      const stop = () =>
        new Promise<string>((resolve) => {
          child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`));
          child.kill('SIGTERM');
        });
      return { url, stop };
    };
    try {
      const first = await run();
      for (let i = 0; i < 4; i += 1) {
        expect((await fetch(`${first.url}/orders/north`, { method: 'POST' })).status).toBe(201);
      }
      expect((await fetch(`${first.url}/orders/elsewhere`, { method: 'POST' })).status).toBe(404);
      // Stopped at once: orders counted since the last background flush (every 250 ms) reach Redis
      // only by the shutdown hooks' last flush.
      // Nest re-raises the signal once the app is closed, so the process ends by SIGTERM.
      expect(await first.stop()).toBe('SIGTERM');

      // As a cluster of two workers: a killed worker's gauges leave at once, its counts stay.
      const clustered = await run('cluster.js', { WORKERS: '2' });
      // With a timeout: a connection handed to the worker killed at that instant is never answered.
      const scrape = async () =>
        (await fetch(`${clustered.url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
      // Each worker's default metrics carry its pid (the primary flushes none of its own).
      const pids = async () => [
        ...new Set(
          [...(await scrape()).matchAll(/process_start_time_seconds\{pid="(\d+)"/g)].map(
            (m) => m[1],
          ),
        ),
      ];
      for (let i = 0; i < 3; i += 1) {
        expect((await fetch(`${clustered.url}/orders/north`, { method: 'POST' })).status).toBe(201);
      }
      // A scrape asks every worker to flush first: the 3 orders are in Redis before the kill.
      await waitFor(async () => (await scrape()).includes('orders_placed_total{shop="north"} 7'));
      await waitFor(async () => (await pids()).length === 2);
      const [killed] = await pids();
      process.kill(Number(killed), 'SIGKILL');
      await waitFor(async () => {
        const now = await pids().catch((): string[] => []);
        return now.length === 2 && !now.includes(killed);
      }, 15_000);
      expect(await clustered.stop()).toBe('exit 0');

      const second = await run();
      const text = await (await fetch(`${second.url}/metrics`)).text();
      await second.stop();
      expect(text.split('\n').filter((line) => line.startsWith('orders_placed_total'))).toEqual([
        'orders_placed_total{shop="north"} 7',
      ]);
    } finally {
      await redis.stop();
    }
  });

  it('has yaml blocks that are Prometheus configurations promtool accepts', () => {
    const configs = blocks('yaml');
    expect(configs.length).toBeGreaterThan(0);
    for (const [index, config] of configs.entries()) {
      const file = join(dir, `prometheus-${index}.yml`);
      // The credential files the configuration names, as they would be on the Prometheus host.
      const withFiles = config.replace(/\/etc\/prometheus\//g, `${dir}/`);
      writeFileSync(join(dir, 'metrics-token'), 'token\n');
      writeFileSync(join(dir, 'metrics-password'), 'password\n');
      writeFileSync(file, withFiles);
      const result = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
      expect(`${result.stdout}${result.stderr}`).toContain('SUCCESS');
      expect(result.status).toBe(0);
    }
  });
});
