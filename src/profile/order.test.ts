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

describe('jsonEqual: undefined and non-finite numbers, decided once', () => {
  it('takes NaN and ±Infinity as null and -0 as 0, the way JSON text (and so the store) holds them', () => {
    expect(jsonEqual(NaN, NaN)).toBe(true);
    expect(jsonEqual({ a: NaN }, { a: null })).toBe(true);
    expect(jsonEqual([Infinity], [-Infinity])).toBe(true);
    expect(jsonEqual(NaN, 0)).toBe(false);
    expect(jsonEqual(-0, 0)).toBe(true);
    expect(canonicalJson({ a: NaN, b: -0 })).toBe('{"a":null,"b":0}');
  });

  it('takes an undefined member as absent, an undefined array item as null, and a top-level undefined as equal only to itself', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(jsonEqual([1, undefined], [1, null])).toBe(true);
    expect(jsonEqual(undefined, undefined)).toBe(true);
    expect(jsonEqual(undefined, null)).toBe(false);
    // The connector layer counts an undefined member as present.
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 }, { undefinedMembers: 'distinct' })).toBe(false);
    expect(jsonEqual({ a: 1, b: undefined }, { b: undefined, a: 1 }, { undefinedMembers: 'distinct' })).toBe(true);
  });

  it('agrees with canonicalJson on JSON with undefined members and non-finite numbers sprinkled in', () => {
    const loose = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(null, true, false, NaN, Infinity, -Infinity, -0, 0, 1, 'x', ''),
        fc.double(),
        fc.array(fc.oneof(tie('value'), fc.constant(undefined)), { maxLength: 4 }),
        fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.oneof(tie('value'), fc.constant(undefined)), { maxKeys: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(loose, loose, (a, b) => {
        expect(jsonEqual(a, b)).toBe(canonicalJson(a) === canonicalJson(b));
        expect(jsonEqual(a, JSON.parse(canonicalJson(a)))).toBe(true);
        expect(jsonEqual(a, b)).toBe(jsonEqual(b, a));
      }),
      { numRuns: 500 },
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
