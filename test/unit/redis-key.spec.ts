import { parseSeriesField, PrefixKeys, redisKey, seriesField } from '../../src/index.js';

describe('redisKey', () => {
  it("reproduces the seed's documented example byte for byte", () => {
    const key = redisKey(
      'gunicorn_requests_total',
      'requests_total',
      ['method', 'status'],
      ['GET', '200'],
      'Total number of requests',
    );
    expect(key).toBe(
      '["gunicorn_requests_total", "requests_total", {"method": "GET", "status": "200"}, "Total number of requests"]',
    );
  });

  it('sorts label names and escapes like Python json.dumps(sort_keys=True)', () => {
    // Expected string written from Python's rules: ensure_ascii escapes DEL and non-ASCII as \uXXXX
    // (astral characters as two surrogates), control characters as \n or \u00XX.
    const key = redisKey('m', 's', ['z', 'a'], ['é "q" \\ \n\u007f😀', '\u0001'], 'h');
    expect(key).toBe(
      '["m", "s", {"a": "\\u0001", "z": "\\u00e9 \\"q\\" \\\\ \\n\\u007f\\ud83d\\ude00"}, "h"]',
    );
  });

  it('names the mismatch when label names and values differ in number', () => {
    expect(() => redisKey('m', 's', ['a', 'b'], ['1'], 'h')).toThrow(
      'redisKey: 2 label names but 1 label values',
    );
  });
});

describe('seriesField', () => {
  it('is compact JSON with sorted labels, and parses back', () => {
    const field = seriesField('http_requests', { status: '200', method: 'GET' });
    expect(field).toBe('["http_requests",{"method":"GET","status":"200"}]');
    expect(parseSeriesField(field)).toEqual({
      metricName: 'http_requests',
      labels: { method: 'GET', status: '200' },
    });
  });

  it('rejects fields that are not series fields', () => {
    expect(parseSeriesField('not json')).toBeUndefined();
    expect(parseSeriesField('["a","b"]')).toBeUndefined();
    expect(parseSeriesField('["a",{"x":1}]')).toBeUndefined();
    expect(parseSeriesField('[2,{}]')).toBeUndefined();
    expect(parseSeriesField('["a",{},{}]')).toBeUndefined();
  });
});

describe('PrefixKeys', () => {
  it('puts every key of a prefix under one hash tag, even a prefix with ":"', () => {
    const keys = new PrefixKeys('app:prod');
    expect(keys.shared()).toEqual([
      '{app:prod}:processes',
      '{app:prod}:process-info',
      '{app:prod}:metadata',
      '{app:prod}:totals',
      '{app:prod}:ended',
      '{app:prod}:ended-seq',
    ]);
    expect(keys.gauges('host/7/abc')).toBe('{app:prod}:gauges:host/7/abc');
    expect(keys.counters('host/7/abc')).toBe('{app:prod}:counters:host/7/abc');
  });

  it('rejects a prefix that would break the hash tag', () => {
    expect(() => new PrefixKeys('a}b')).toThrow(
      'Redis key prefix must be non-empty without "{" or "}"; got "a}b"',
    );
    expect(() => new PrefixKeys('')).toThrow('Redis key prefix must be non-empty');
  });
});
