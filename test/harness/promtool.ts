import { spawnSync } from 'node:child_process';

/**
 * Runs `promtool check metrics` on exposition text and returns what it said ('' when clean, lint
 * included). promtool comes with Debian's `prometheus` package, which `.ci/run` installs.
 */
export function promtoolCheck(text: string): string {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) {
    throw new Error(
      'promtool not found: install it (Debian/Ubuntu: apt-get install prometheus; macOS: brew install prometheus)',
    );
  }
  return (
    `${result.stdout}${result.stderr}`.trim() +
    (result.status === 0 ? '' : ` (exit ${result.status})`)
  );
}

/**
 * What promtool's linter says of prom-client's own default metrics: three gauges end in `_total`.
 * The names are prom-client's; the exposition still parses (exit 3 is "lint only", 1 would be invalid).
 */
export const PROM_CLIENT_DEFAULT_METRICS_LINT = [
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix (exit 3)',
].join('\n');
