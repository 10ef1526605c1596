import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, compareInstants, jsonEqual } from './order.js';

describe('canonicalJson / jsonEqual', () => {
  it('treat key order, undefined members and -0 as spelling, not content', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, -0], c: undefined } })).toBe('{"a":{"d":[1,0]},"b":1}');
    expect(jsonEqual({ b: 1, a: { d: [1, -0] } }, { a: { d: [1, 0], c: undefined }, b: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual({ a: [] }, { a: {} })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });

  it('agree with each other on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        expect(jsonEqual(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
        expect(jsonEqual(a, JSON.parse(canonicalJson(a)))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('compareInstants', () => {
  it('orders by time, then by spelling, and stays antisymmetric on unparseable input', () => {
    expect(compareInstants('2026-01-01T10:00:00.000Z', '2026-01-01T10:00:01.000Z')).toBeLessThan(0);
    expect(compareInstants('2026-01-01T10:00:00.000Z', '2026-01-01T10:00:00.000Z')).toBe(0);
    expect(Math.sign(compareInstants('garbage', '2026-01-01T10:00:00.000Z'))).toBe(
      -Math.sign(compareInstants('2026-01-01T10:00:00.000Z', 'garbage')),
    );
  });
});
