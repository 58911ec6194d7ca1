import type { MetricFamily } from './metric-family.js';

/** A `# HELP` line of an exposition: the line's start with the name, and the help text. */
const HELP_LINE = /^(# HELP [^ \n]+ )(.*)$/gm;

/**
 * OpenMetrics text as the format wants its `# HELP` lines: OpenMetrics escapes a double quote in a
 * help text (`\"`, as Python's client writes it) where the text format 0.0.4 does not, and prom-client
 * escapes only backslashes and newlines in both. No other line can start with `# HELP ` (sample lines
 * start with a metric name, and newlines inside texts are escaped), and a quote in prom-client's help
 * text is never escaped already, so each one gets its backslash.
 */
export function escapeQuotesInHelp(text: string, families: readonly MetricFamily[]): string {
  // Most apps have no quote in any help text: leave the text as it is.
  if (!families.some((family) => family.help.includes('"'))) return text;
  return text.replace(HELP_LINE, (_line, start: string, help: string) =>
    help.includes('"') ? `${start}${help.replace(/"/g, '\\"')}` : `${start}${help}`,
  );
}
