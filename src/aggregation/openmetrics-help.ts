import type { MetricFamily } from './metric-family.js';

const HELP = '# HELP ';

/**
 * OpenMetrics text as the format wants its `# HELP` lines: OpenMetrics escapes a double quote in a
 * help text (`\"`, as Python's client writes it) where the text format 0.0.4 does not, and prom-client
 * escapes only backslashes and newlines in both. No other line can start with `# HELP ` (sample lines
 * start with a metric name, and newlines inside texts are escaped), and a quote in prom-client's help
 * text is never escaped already, so each one gets its backslash. Lines are split at `\n` only: a help
 * text or label value may hold a `\r` or U+2028 that a multiline regular expression would take for
 * the start of a line.
 */
export function escapeQuotesInHelp(text: string, families: readonly MetricFamily[]): string {
  // Most apps have no quote in any help text: leave the text as it is.
  if (!families.some((family) => family.help.includes('"'))) return text;
  return text
    .split('\n')
    .map((line) => {
      if (!line.startsWith(HELP) || !line.includes('"')) return line;
      const helpStart = line.indexOf(' ', HELP.length) + 1;
      return line.slice(0, helpStart) + line.slice(helpStart).replace(/"/g, '\\"');
    })
    .join('\n');
}
