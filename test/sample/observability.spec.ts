import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kit = new URL('../../sample/observability/', import.meta.url).pathname;

function promtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the observability kit of the sample', () => {
  it('has a Prometheus configuration promtool accepts', () => {
    const result = promtool('check', 'config', join(kit, 'prometheus.yml'));
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('has a Grafana dashboard whose every query is valid PromQL over the metrics the sample exports', () => {
    const dashboard = JSON.parse(readFileSync(join(kit, 'grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    const dir = mkdtempSync(join(tmpdir(), 'nrm-dashboard-'));
    const rules = join(dir, 'rules.yml');
    writeFileSync(
      rules,
      [
        'groups:',
        '  - name: dashboard',
        '    rules:',
        ...exprs.flatMap((e, i) => [
          `      - record: panel_query_${i}`,
          `        expr: ${JSON.stringify(e)}`,
        ]),
      ].join('\n'),
    );
    const result = promtool('check', 'rules', rules);
    rmSync(dir, { recursive: true, force: true });

    expect(dashboard.panels.map((p) => p.title)).toEqual([
      'Request rate by route',
      'Error rate (5xx share)',
      'Latency quantiles (from the histogram)',
      'Requests in flight (live workers)',
      'Live workers',
      'Worker restarts by reason',
      'Orders placed per second',
      'Scrape health',
      'Resident memory per worker',
    ]);
    expect(result.output).toContain(`SUCCESS: ${exprs.length} rules found`);
    expect(result.status).toBe(0);
  });
});
