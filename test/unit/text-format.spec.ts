import {
  familiesToRegistry,
  OPENMETRICS_CONTENT_TYPE,
  renderFamilies,
  type MetricFamily,
} from '../../src/index.js';
import { renderTextFormat } from '../../src/aggregation/text-format.js';

// The text format is written by the module's own formatter for speed; prom-client's registry is the
// reference, byte for byte.
const families: MetricFamily[] = [
  {
    name: 'orders_total',
    help: 'Orders "placed" \\ here\nand there',
    type: 'counter',
    samples: [
      { name: 'orders_total', labels: { shop: 'north' }, value: 7 },
      { name: 'orders_total', labels: { shop: 'say "hi" \\ back\nslash ü 😀' }, value: 1e-18 },
      { name: 'orders_total', labels: {}, value: 1.2345678901234568e-10 },
    ],
  },
  {
    name: 'latency_seconds',
    help: '',
    type: 'histogram',
    samples: [
      { name: 'latency_seconds_bucket', labels: { route: '/a', le: '0.1' }, value: 1 },
      { name: 'latency_seconds_bucket', labels: { route: '/a', le: '+Inf' }, value: 3 },
      { name: 'latency_seconds_sum', labels: { route: '/a' }, value: 2.5 },
      { name: 'latency_seconds_count', labels: { route: '/a' }, value: 3 },
    ],
  },
  {
    name: 'size_bytes',
    help: 'Size',
    type: 'summary',
    samples: [
      { name: 'size_bytes', labels: { quantile: '0.5' }, value: NaN },
      { name: 'size_bytes_sum', labels: {}, value: Infinity },
      { name: 'size_bytes_count', labels: {}, value: 0 },
    ],
  },
  {
    name: 'temperature',
    help: 'Temperature',
    type: 'gauge',
    samples: [
      { name: 'temperature', labels: { room: 'a', pid: '7', hostname: 'web-1' }, value: -Infinity },
      { name: 'temperature', labels: { room: 'b', pid: '8', hostname: 'web-1' }, value: -0.5 },
      { name: 'temperature', labels: { room: 'c' }, value: 5e21 },
    ],
  },
];

describe('the text format 0.0.4', () => {
  it('is written byte for byte as prom-client writes it', async () => {
    const reference = await familiesToRegistry(families).metrics();
    expect(renderTextFormat(families)).toBe(reference);
    expect(await renderFamilies(families)).toBe(reference);
  });

  it('writes no family as prom-client does', async () => {
    expect(renderTextFormat([])).toBe(await familiesToRegistry([]).metrics());
  });
});

describe('OpenMetrics help texts', () => {
  it('escape a double quote, as the format requires and Python writes it, with backslashes and newlines', async () => {
    const text = await renderFamilies([families[0], families[3]], OPENMETRICS_CONTENT_TYPE);

    // Python's prometheus_client (openmetrics.exposition) writes the same HELP line for this help text.
    expect(text.split('\n').filter((line) => line.startsWith('# HELP '))).toEqual([
      '# HELP orders Orders \\"placed\\" \\\\ here\\nand there',
      '# HELP temperature Temperature',
    ]);
  });

  it('leave lines alone that only a multiline regular expression would take for HELP lines', async () => {
    const text = await renderFamilies(
      [
        {
          name: 'odd',
          help: 'a "quoted"\r# HELP x "y"',
          type: 'gauge',
          samples: [{ name: 'odd', labels: { v: 'p\u2028# HELP odd "q"' }, value: 1 }],
        },
      ],
      OPENMETRICS_CONTENT_TYPE,
    );

    expect(text).toBe(
      '# HELP odd a \\"quoted\\"\r# HELP x \\"y\\"\n# TYPE odd gauge\nodd{v="p\u2028# HELP odd \\"q\\""} 1\n# EOF\n',
    );
  });
});

describe('OpenMetrics with no family', () => {
  it('is `# EOF` alone, as Python writes it: a blank line before it makes Prometheus mark the target down', async () => {
    expect(await renderFamilies([], OPENMETRICS_CONTENT_TYPE)).toBe('# EOF\n');
  });
});
