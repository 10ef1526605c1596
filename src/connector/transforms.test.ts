import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json } from '../profile/schema.js';
import { Transform } from './mapping-schema.js';
import { compileChain, compileTransform, isInvertible, parseIsoInstant } from './transforms.js';
import type { CanonicalKind, Converted } from './transforms.js';

const t = (input: unknown): Transform => Transform.parse(input);
const value = (c: Converted): Json => {
  if (!c.ok) throw new Error(`conversion failed: ${c.problem}`);
  return c.value;
};

describe('lowercase', () => {
  const lc = compileTransform(t({ type: 'lowercase' }));
  it('lower-cases outbound and keeps the external value inbound', () => {
    expect(value(lc.toExternal('Ann@Example.COM'))).toBe('ann@example.com');
    expect(value(lc.toCanonical('ann@example.com'))).toBe('ann@example.com');
  });
  it('is declared lossy', () => expect(isInvertible({ type: 'lowercase' })).toBe(false));
  it('refuses a non-string canonical value with a typed error', () => {
    expect(lc.toExternal(42)).toEqual({ ok: false, problem: 'not_a_string', valueType: 'number' });
  });
});

describe('invert', () => {
  const inv = compileTransform(t({ type: 'invert' }));
  it('negates both ways and reads "true"/"false" strings inbound', () => {
    expect(value(inv.toExternal(true))).toBe(false);
    expect(value(inv.toCanonical(false))).toBe(true);
    expect(value(inv.toCanonical(' TRUE '))).toBe(false);
  });
  it('returns not_a_boolean for anything else', () => {
    expect(inv.toCanonical('yes')).toEqual({ ok: false, problem: 'not_a_boolean', valueType: 'string' });
    expect(inv.toExternal([true])).toEqual({ ok: false, problem: 'not_a_boolean', valueType: 'array' });
  });
  it('passes null through', () => expect(value(inv.toCanonical(null))).toBeNull());
});

describe('map', () => {
  const status = compileTransform(t({ type: 'map', values: { granted: 'OptIn', denied: 'OptOut' } }), 'boolean');
  it('accepts granted/denied keys for boolean canonical values', () => {
    expect(value(status.toExternal(true))).toBe('OptIn');
    expect(value(status.toCanonical('OptOut'))).toBe(false);
  });
  it('maps strings and reverses by type first, then by string form', () => {
    const m = compileTransform(t({ type: 'map', values: { gold: 1, silver: 2 } }));
    expect(value(m.toExternal('silver'))).toBe(2);
    expect(value(m.toCanonical(1))).toBe('gold');
    expect(value(m.toCanonical('2'))).toBe('silver');
  });
  it('uses the default outbound, and reports unmapped values otherwise', () => {
    const withDefault = compileTransform(t({ type: 'map', values: { a: 'A' }, default: 'OTHER' }));
    expect(value(withDefault.toExternal('zzz'))).toBe('OTHER');
    const strict = compileTransform(t({ type: 'map', values: { a: 'A' } }));
    expect(strict.toExternal('zzz')).toEqual({ ok: false, problem: 'unmapped_value', valueType: 'string' });
    expect(strict.toCanonical('B')).toEqual({ ok: false, problem: 'unmapped_value', valueType: 'string' });
    expect(strict.toCanonical({ a: 1 })).toEqual({ ok: false, problem: 'unmapped_value', valueType: 'object' });
  });
  it('is invertible only when one-to-one', () => {
    expect(isInvertible(t({ type: 'map', values: { a: 'X', b: 'Y' } }))).toBe(true);
    expect(isInvertible(t({ type: 'map', values: { a: 'X', b: 'X' } }))).toBe(false);
    expect(isInvertible(t({ type: 'map', values: { a: 1, b: '1' } }))).toBe(true);
  });
});

describe('date', () => {
  const iso = compileTransform(t({ type: 'date', format: 'iso' }));
  const ms = compileTransform(t({ type: 'date', format: 'epoch_ms' }));
  const s = compileTransform(t({ type: 'date', format: 'epoch_s' }));
  const day = compileTransform(t({ type: 'date', format: 'date' }));
  const at = '2026-03-01T10:20:30.456Z';
  it('writes every format', () => {
    expect(value(iso.toExternal(at))).toBe(at);
    expect(value(ms.toExternal(at))).toBe(Date.parse(at));
    expect(value(s.toExternal(at))).toBe(Math.floor(Date.parse(at) / 1000));
    expect(value(day.toExternal(at))).toBe('2026-03-01');
  });
  it('reads every format back to a canonical instant', () => {
    expect(value(iso.toCanonical('2026-03-01T11:20:30.456+01:00'))).toBe(at);
    expect(value(ms.toCanonical(String(Date.parse(at))))).toBe(at);
    expect(value(s.toCanonical(1_772_360_430))).toBe('2026-03-01T10:20:30.000Z');
    expect(value(day.toCanonical('2026-03-01'))).toBe('2026-03-01T00:00:00.000Z');
  });
  it('returns a typed error for dates that do not parse', () => {
    for (const bad of ['not a date', '2026-02-30', '2026-13-01', '2026-01-01T25:00:00Z', '']) {
      expect(iso.toCanonical(bad)).toEqual({ ok: false, problem: 'not_a_date', valueType: 'string' });
    }
    expect(day.toCanonical('2026-03-01T10:00:00Z')).toMatchObject({ ok: false, problem: 'not_a_date' });
    expect(ms.toCanonical('12abc')).toMatchObject({ ok: false, problem: 'not_a_date' });
    expect(ms.toCanonical(true)).toMatchObject({ ok: false, problem: 'not_a_date', valueType: 'boolean' });
    expect(ms.toCanonical(1e20)).toMatchObject({ ok: false, problem: 'date_out_of_range' });
    expect(iso.toExternal('yesterday')).toMatchObject({ ok: false, problem: 'not_a_date' });
  });
  it('accepts leap days only in leap years', () => {
    expect(parseIsoInstant('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseIsoInstant('2023-02-29')).toBeUndefined();
    expect(parseIsoInstant('2000-02-29')).toBe(Date.UTC(2000, 1, 29));
    expect(parseIsoInstant('1900-02-29')).toBeUndefined();
  });
  it('declares epoch_s and date lossy, iso and epoch_ms invertible', () => {
    expect(isInvertible({ type: 'date', format: 'iso' })).toBe(true);
    expect(isInvertible({ type: 'date', format: 'epoch_ms' })).toBe(true);
    expect(isInvertible({ type: 'date', format: 'epoch_s' })).toBe(false);
    expect(isInvertible({ type: 'date', format: 'date' })).toBe(false);
  });
});

describe('join and split', () => {
  const join = compileTransform(t({ type: 'join' }));
  const split = compileTransform(t({ type: 'split', separator: ',' }));
  it('joins arrays with the default separator ";" and splits them back', () => {
    expect(value(join.toExternal(['news', 'offers']))).toBe('news;offers');
    expect(value(join.toCanonical('news;offers'))).toEqual(['news', 'offers']);
    expect(value(join.toCanonical(''))).toEqual([]);
    expect(value(join.toExternal([]))).toBe('');
  });
  it('splits strings outbound and joins arrays inbound', () => {
    expect(value(split.toExternal('a,b'))).toEqual(['a', 'b']);
    expect(value(split.toExternal(''))).toEqual([]);
    expect(value(split.toCanonical(['a', 'b']))).toBe('a,b');
  });
  it('reports wrong shapes', () => {
    expect(join.toExternal(['a', 1])).toEqual({ ok: false, problem: 'not_a_string_array', valueType: 'array' });
    expect(join.toCanonical(5)).toEqual({ ok: false, problem: 'not_a_string', valueType: 'number' });
    expect(split.toExternal(true)).toEqual({ ok: false, problem: 'not_a_string', valueType: 'boolean' });
    expect(split.toCanonical([1])).toEqual({ ok: false, problem: 'not_a_string_array', valueType: 'array' });
  });
});

describe('chains', () => {
  it('run in order outbound and in reverse inbound, naming the failing transform', () => {
    const chain = compileChain([t({ type: 'invert' }), t({ type: 'map', values: { true: 'Y', false: 'N' } })], 'boolean');
    expect(value(chain.toExternal(true))).toBe('N');
    expect(value(chain.toCanonical('N'))).toBe(true);
    expect(chain.toCanonical('maybe')).toEqual({ ok: false, problem: 'unmapped_value', valueType: 'string', transform: 'map' });
    expect(chain.invertible).toBe(true);
    expect(compileChain([t({ type: 'lowercase' }), t({ type: 'split' })]).invertible).toBe(false);
  });
});

// ------------------------------------------------------------------------ properties

/** A canonical ISO instant with milliseconds between years 0 and 9999. */
const instantArb = fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }).map((ms) => new Date(ms).toISOString());
const sepArb = fc.constantFrom(';', ',', '|', ' / ', '::');
const textArb = fc.string({ unit: fc.constantFrom('a', 'B', 'é', ';', ',', '|', ' ', '/', ':', '1'), maxLength: 12 });
const primArb = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null));

type Ty = 'bool' | 'str' | 'strs' | 'instant' | 'num' | 'prim';
interface Step {
  transform: Transform;
  to: Ty;
}
interface Plan {
  kind: CanonicalKind;
  from: Ty;
  steps: Step[];
  value: Json;
}

/** One invertible step from a type, or none when the type has no further step. */
function stepArb(from: Ty): fc.Arbitrary<Step> | undefined {
  switch (from) {
    case 'bool':
      return fc.oneof(
        fc.constant<Step>({ transform: { type: 'invert' }, to: 'bool' }),
        fc
          .uniqueArray(primArb, { minLength: 2, maxLength: 2, selector: (v) => `${typeof v}:${String(v)}` })
          .map(([a, b]): Step => ({ transform: { type: 'map', values: { true: a ?? null, false: b ?? null } }, to: 'prim' })),
      );
    case 'str':
      return sepArb.map((separator): Step => ({ transform: { type: 'split', separator }, to: 'strs' }));
    case 'strs':
      return sepArb.map((separator): Step => ({ transform: { type: 'join', separator }, to: 'str' }));
    case 'instant':
      return fc.oneof(
        fc.constant<Step>({ transform: { type: 'date', format: 'iso' }, to: 'instant' }),
        fc.constant<Step>({ transform: { type: 'date', format: 'epoch_ms' }, to: 'num' }),
      );
    default:
      return undefined;
  }
}

function stepsArb(from: Ty, max: number): fc.Arbitrary<Step[]> {
  const next = stepArb(from);
  if (max === 0 || next === undefined) return fc.constant([]);
  return next.chain((step) =>
    fc.oneof(
      fc.constant<Step[]>([step]),
      stepsArb(step.to, max - 1).map((rest): Step[] => [step, ...rest]),
    ),
  );
}

function valueArb(from: Ty): fc.Arbitrary<Json> {
  switch (from) {
    case 'bool':
      return fc.boolean();
    case 'str':
      return textArb;
    case 'strs':
      return fc.array(textArb, { maxLength: 4 });
    default:
      return instantArb;
  }
}

/** Invertible chains (with an optional leading string->string map) and a canonical value for each. */
const planArb: fc.Arbitrary<Plan> = fc.constantFrom<Ty>('bool', 'str', 'strs', 'instant').chain((from): fc.Arbitrary<Plan> => {
  const kind: CanonicalKind = from === 'bool' ? 'boolean' : 'json';
  const plain = fc.tuple(stepsArb(from, 4), valueArb(from)).map(([steps, value]): Plan => ({ kind, from, steps, value }));
  if (from !== 'str') return plain;
  const withMap = fc
    .uniqueArray(fc.tuple(textArb, textArb), { minLength: 1, maxLength: 4, selector: ([k]) => k })
    .filter((pairs) => new Set(pairs.map(([, v]) => v)).size === pairs.length)
    .chain((pairs) =>
      fc.tuple(stepsArb('str', 3), fc.constantFrom(...pairs.map(([k]) => k))).map(([rest, value]): Plan => ({
        kind,
        from,
        steps: [{ transform: { type: 'map', values: Object.fromEntries(pairs) }, to: 'str' }, ...rest],
        value,
      })),
    );
  return fc.oneof(plain, withMap);
});

/** The documented domain of `join`: no item contains a separator character, and not `[""]`. */
function joinDomain(items: Json, separator: string): boolean {
  if (!Array.isArray(items)) return false;
  if (items.length === 1 && items[0] === '') return false;
  return items.every((i) => typeof i === 'string' && ![...separator].some((c) => i.includes(c)));
}

describe('properties', () => {
  it('every listed transform of the property grammar is declared invertible', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        expect(
          compileChain(
            plan.steps.map((s) => s.transform),
            plan.kind,
          ).invertible,
        ).toBe(true);
      }),
    );
  });

  it('a canonical value mapped out and back in is unchanged, for every invertible transform and chain', () => {
    fc.assert(
      fc.property(planArb, (plan) => {
        const transforms = plan.steps.map((s) => s.transform);
        // Walk the chain step by step to check join's documented domain on intermediate values.
        let current: Json = plan.value;
        let kind: CanonicalKind = plan.kind;
        for (const tr of transforms) {
          if (tr.type === 'join') fc.pre(joinDomain(current, tr.separator));
          current = value(compileTransform(tr, kind).toExternal(current));
          kind = kind === 'boolean' && tr.type === 'invert' ? 'boolean' : 'json';
        }
        const chain = compileChain(transforms, plan.kind);
        const out = chain.toExternal(plan.value);
        expect(out).toEqual({ ok: true, value: current });
        expect(chain.toCanonical(value(out))).toEqual({ ok: true, value: plan.value });
      }),
      { numRuns: 500 },
    );
  });

  it('lossy date formats round-trip on their domain and are stable after one round trip', () => {
    const s = compileTransform({ type: 'date', format: 'epoch_s' });
    const day = compileTransform({ type: 'date', format: 'date' });
    fc.assert(
      fc.property(instantArb, (at) => {
        for (const tr of [s, day]) {
          const once = value(tr.toCanonical(value(tr.toExternal(at))));
          expect(value(tr.toCanonical(value(tr.toExternal(once))))).toBe(once);
        }
        const whole = new Date(Math.floor(Date.parse(at) / 1000) * 1000).toISOString();
        expect(value(s.toCanonical(value(s.toExternal(whole))))).toBe(whole);
        const midnight = `${at.slice(0, 10)}T00:00:00.000Z`;
        expect(value(day.toCanonical(value(day.toExternal(midnight))))).toBe(midnight);
      }),
    );
  });

  it('lowercase is stable after one round trip', () => {
    const lc = compileTransform({ type: 'lowercase' });
    fc.assert(
      fc.property(fc.string(), (text) => {
        const once = value(lc.toCanonical(value(lc.toExternal(text))));
        expect(value(lc.toCanonical(value(lc.toExternal(once))))).toBe(once);
      }),
    );
  });

  it('never throws, whatever the external value', () => {
    const all: Transform[] = [
      { type: 'lowercase' },
      { type: 'invert' },
      { type: 'map', values: { a: 'A' } },
      { type: 'date', format: 'iso' },
      { type: 'date', format: 'epoch_ms' },
      { type: 'date', format: 'epoch_s' },
      { type: 'date', format: 'date' },
      { type: 'join', separator: ';' },
      { type: 'split', separator: ';' },
    ];
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(...all), (external, tr) => {
        const c = compileTransform(tr);
        const a = c.toCanonical(external as Json);
        const b = c.toExternal(external as Json);
        expect(typeof a.ok).toBe('boolean');
        expect(typeof b.ok).toBe('boolean');
      }),
    );
  });
});
