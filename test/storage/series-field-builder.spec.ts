import { seriesField } from '../../src/index.js';
import { applyDefaultLabels, stringLabels } from '../../src/storage/registry-snapshot.js';
import { SeriesFieldBuilder } from '../../src/storage/series-field-builder.js';

/** The reference: what snapshotRegistry makes of a sample's labels. */
function referenceField(
  name: string,
  labels: Record<string, unknown>,
  defaults: Record<string, unknown>,
): string {
  return seriesField(name, stringLabels(applyDefaultLabels(labels, defaults)));
}

describe('SeriesFieldBuilder', () => {
  const values: unknown[] = [
    'plain',
    '',
    'say "hi"',
    'back\\slash',
    'line\nbreak\ttab\u0000nul\u001f',
    'emoji 😀 pair',
    'lone \ud800 high',
    'lone \udc00 low',
    'é ü 中文',
    0,
    200,
    -1.5,
    NaN,
    true,
    false,
    null,
    undefined,
  ];

  it('writes exactly the field seriesField writes, for every kind of label value', () => {
    const builder = new SeriesFieldBuilder('m_total', ['b', 'a', 'c'], {});
    for (const a of values) {
      for (const b of values) {
        const labels = { b, a, c: 'x' };
        expect(builder.field(labels)).toBe(referenceField('m_total', labels, {}));
      }
    }
  });

  it('merges default labels as getMetricsAsJSON does (a falsy value takes the default)', () => {
    const defaults = { a: 'dflt', z: 'zone', n: 0 };
    const builder = new SeriesFieldBuilder('m', ['a', 'b'], defaults);
    for (const a of values) {
      const labels = { a, b: 'y' };
      expect(builder.field(labels)).toBe(referenceField('m', labels, defaults));
    }
    expect(builder.field({ b: 'y' })).toBe('["m",{"a":"dflt","b":"y","n":"0","z":"zone"}]');
  });

  it('takes the reference path for names it does not know or that an object inherits', () => {
    const builder = new SeriesFieldBuilder('m', ['a'], {});
    const grown = { a: '1', zz: '2', '10': 'integer-like' };
    expect(builder.field(grown)).toBe(referenceField('m', grown, {}));
    const inherited = new SeriesFieldBuilder('m', ['constructor', 'a'], {});
    expect(inherited.field({ a: '1' })).toBe(referenceField('m', { a: '1' }, {}));
    expect(inherited.field({ a: '1', constructor: 'c' })).toBe(
      referenceField('m', { a: '1', constructor: 'c' }, {}),
    );
  });

  it("leaves out a histogram's le, and says when a series holds one of its own", () => {
    const builder = new SeriesFieldBuilder('h', ['route'], { host: 'a' }, 'le');
    expect(builder.field({ route: '/' })).toBe('["h",{"host":"a","route":"/"}]');
    expect(builder.field({ route: '/', le: '1' })).toBeUndefined();
  });
});
