// The media ranges served as Prometheus text: text/plain itself, and what any client accepts.
const TEXT_RANGES = new Set(['text/plain', 'text/*', '*/*']);
const OPENMETRICS = 'application/openmetrics-text';

/**
 * Whether a scrape's `Accept` header asks for OpenMetrics rather than Prometheus text: OpenMetrics
 * when it is acceptable (q above 0) with a weight at least that of text, so a tie goes to it. Media
 * types compare in any case; a header that names neither gets text.
 */
export function prefersOpenMetrics(accept: string): boolean {
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = parameters.find((parameter) => /^q\s*=/.test(parameter));
    const weight = q === undefined ? 1 : Number(q.slice(q.indexOf('=') + 1).trim());
    if (!(weight > 0)) continue; // q=0, or a weight that is no number: not acceptable
    if (type === OPENMETRICS) openMetrics = Math.max(openMetrics, weight);
    else if (TEXT_RANGES.has(type)) text = Math.max(text, weight);
  }
  return openMetrics > 0 && openMetrics >= text;
}
