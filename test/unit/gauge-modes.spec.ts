import { gaugeModeRule, type TimedValue } from '../../src/index.js';

describe('gauge modes', () => {
  const mostRecent = (values: TimedValue[]) => gaugeModeRule('mostrecent')!.reduce!(values);

  it('mostrecent takes the value written last', () => {
    expect(
      mostRecent([
        { value: 5, timestamp: 2 },
        { value: 3, timestamp: 1 },
      ]),
    ).toBe(5);
    expect(
      mostRecent([
        { value: 3, timestamp: 1 },
        { value: 5, timestamp: 2 },
      ]),
    ).toBe(5);
  });

  it('mostrecent breaks a tie the same way in any read order, NaN included', () => {
    const tie = (a: number, b: number) => [
      mostRecent([
        { value: a, timestamp: 7 },
        { value: b, timestamp: 7 },
      ]),
      mostRecent([
        { value: b, timestamp: 7 },
        { value: a, timestamp: 7 },
      ]),
    ];
    expect(tie(2, 5)).toEqual([5, 5]);
    // As max gives NaN when one value is NaN.
    expect(tie(NaN, 3)).toEqual([NaN, NaN]);
    expect(tie(-Infinity, NaN)).toEqual([NaN, NaN]);
  });
});
