import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from './redis-server.mjs';
import { waitFor } from './writer-processes.js';

/** A real Prometheus server (Debian's `prometheus` package) scraping one target, for the tests. */
export interface PrometheusServer {
  url: string;
  /** Runs an instant query and returns its vector result. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** The scrape targets as Prometheus sees them. */
  targets(): Promise<
    { health: string; lastError: string; scrapeUrl: string; labels: Record<string, string> }[]
  >;
  stop(): Promise<void>;
}

/** One scrape job: a target URL and the credentials Prometheus sends with each scrape. */
export interface PrometheusJob {
  name: string;
  target: string;
  /** `authorization: { type: Bearer, credentials }` in the scrape config. */
  bearerToken?: string;
  /** `basic_auth: { username, password }` in the scrape config. */
  basicAuth?: { username: string; password: string };
}

export function startPrometheus(
  target: string,
  scrapeIntervalSeconds = 1,
): Promise<PrometheusServer> {
  return startPrometheusJobs([{ name: 'app', target }], scrapeIntervalSeconds);
}

/** A real Prometheus scraping several jobs, each with its own credentials if any. */
export async function startPrometheusJobs(
  jobs: PrometheusJob[],
  scrapeIntervalSeconds = 1,
): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'nrm-prometheus-'));
  const port = await freePort();
  const jobLines = jobs.flatMap((job) => {
    const { host, pathname } = new URL(job.target);
    return [
      `  - job_name: ${JSON.stringify(job.name)}`,
      `    metrics_path: ${pathname}`,
      ...(job.bearerToken === undefined
        ? []
        : [
            '    authorization:',
            '      type: Bearer',
            `      credentials: ${JSON.stringify(job.bearerToken)}`,
          ]),
      ...(job.basicAuth === undefined
        ? []
        : [
            '    basic_auth:',
            `      username: ${JSON.stringify(job.basicAuth.username)}`,
            `      password: ${JSON.stringify(job.basicAuth.password)}`,
          ]),
      '    static_configs:',
      `      - targets: ['${host}']`,
    ];
  });
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${scrapeIntervalSeconds}s`,
      `  scrape_timeout: ${scrapeIntervalSeconds}s`,
      'scrape_configs:',
      ...jobLines,
      '',
    ].join('\n'),
  );
  let child: ChildProcess;
  try {
    child = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('prometheus not found: install it (Debian/Ubuntu: apt-get install prometheus)');
  }
  const url = `http://127.0.0.1:${port}`;
  const api = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: unknown };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${JSON.stringify(body)}`);
    return body.data;
  };
  await waitFor(
    async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true,
    20_000,
  );
  return {
    url,
    async query(promql) {
      const data = (await api(`/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
        result: { metric: Record<string, string>; value: [number, string] }[];
      };
      return data.result;
    },
    async targets() {
      const data = (await api('/api/v1/targets')) as {
        activeTargets: {
          health: string;
          lastError: string;
          scrapeUrl: string;
          labels: Record<string, string>;
        }[];
      };
      return data.activeTargets;
    },
    async stop() {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
