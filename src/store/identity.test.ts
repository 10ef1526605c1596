import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { identityKey, keyedIdentityHash, normalizeIdentities, normalizeIdentity } from './identity.js';

describe('normalizeIdentity', () => {
  it('trims and lower-cases e-mail, keeping dots and plus-tags', () => {
    expect(normalizeIdentity({ kind: 'email', value: '  Ada.Lovelace+News@Example.COM ' })).toEqual({
      ok: true,
      identity: { kind: 'email', value: 'ada.lovelace+news@example.com' },
    });
  });

  it('rejects strings that are not e-mail addresses', () => {
    for (const value of ['no-at-sign', 'two@@example.com', 'a b@example.com', '@example.com', 'ada@']) {
      expect(normalizeIdentity({ kind: 'email', value })).toEqual({ ok: false, reason: 'invalid_email' });
    }
    expect(normalizeIdentity({ kind: 'email', value: '   ' })).toEqual({ ok: false, reason: 'empty' });
  });

  it('formats international phone numbers as E.164', () => {
    expect(normalizeIdentity({ kind: 'phone', value: '+44 20 7946 0958' })).toEqual({
      ok: true,
      identity: { kind: 'phone', value: '+442079460958' },
    });
    expect(normalizeIdentity({ kind: 'phone', value: '+1 (415) 555-0132' })).toEqual({
      ok: true,
      identity: { kind: 'phone', value: '+14155550132' },
    });
  });

  it('reads national numbers only with a default country', () => {
    expect(normalizeIdentity({ kind: 'phone', value: '030 1234567' })).toEqual({ ok: false, reason: 'invalid_phone' });
    expect(normalizeIdentity({ kind: 'phone', value: '030 1234567' }, { defaultPhoneCountry: 'DE' })).toEqual({
      ok: true,
      identity: { kind: 'phone', value: '+49301234567' },
    });
    // An explicit international prefix wins over the default country.
    expect(normalizeIdentity({ kind: 'phone', value: '+33 1 23 45 67 89' }, { defaultPhoneCountry: 'DE' })).toEqual({
      ok: true,
      identity: { kind: 'phone', value: '+33123456789' },
    });
  });

  it('rejects impossible phone numbers', () => {
    expect(normalizeIdentity({ kind: 'phone', value: '123' }, { defaultPhoneCountry: 'DE' })).toEqual({
      ok: false,
      reason: 'invalid_phone',
    });
    expect(normalizeIdentity({ kind: 'phone', value: '+1 555' })).toEqual({ ok: false, reason: 'invalid_phone' });
    expect(normalizeIdentity({ kind: 'phone', value: 'call me' })).toEqual({ ok: false, reason: 'invalid_phone' });
  });

  it('namespaces external ids by system, defaulting to the patch source, keeping case', () => {
    expect(normalizeIdentity({ kind: 'external', value: ' 003Ab ', system: 'salesforce' })).toEqual({
      ok: true,
      identity: { kind: 'external', value: '003Ab', system: 'salesforce' },
    });
    expect(normalizeIdentity({ kind: 'external', value: '42' }, { defaultSystem: 'hubspot' })).toEqual({
      ok: true,
      identity: { kind: 'external', value: '42', system: 'hubspot' },
    });
    expect(normalizeIdentity({ kind: 'external', value: '42' })).toEqual({ ok: false, reason: 'missing_system' });
  });

  it('is idempotent', () => {
    const identity = fc.oneof(
      fc.emailAddress().map((value) => ({ kind: 'email' as const, value: ` ${value.toUpperCase()} ` })),
      fc.stringMatching(/^\+?[0-9 ()-]{4,20}$/).map((value) => ({ kind: 'phone' as const, value })),
      fc.string({ minLength: 1, maxLength: 30 }).map((value) => ({ kind: 'external' as const, value, system: 'crm' })),
    );
    fc.assert(
      fc.property(identity, (input) => {
        const once = normalizeIdentity(input, { defaultPhoneCountry: 'GB' });
        if (!once.ok) return;
        expect(normalizeIdentity(once.identity, { defaultPhoneCountry: 'GB' })).toEqual(once);
      }),
    );
  });
});

describe('normalizeIdentities', () => {
  it('drops invalid identities and de-duplicates spellings of the same one', () => {
    const result = normalizeIdentities(
      [
        { kind: 'email', value: 'A@Example.com' },
        { kind: 'email', value: 'a@example.com ' },
        { kind: 'phone', value: 'nope' },
        { kind: 'external', value: '7', system: 'hubspot' },
        { kind: 'external', value: '7', system: 'salesforce' },
      ],
      {},
    );
    expect(result.identities).toEqual([
      { kind: 'email', value: 'a@example.com' },
      { kind: 'external', value: '7', system: 'hubspot' },
      { kind: 'external', value: '7', system: 'salesforce' },
    ]);
    expect(result.rejected).toEqual(['invalid_phone']);
  });
});

describe('keyedIdentityHash', () => {
  it('depends on the key and on every part of the identity', () => {
    const email = { kind: 'email' as const, value: 'a@example.com' };
    const hash = keyedIdentityHash(email, 'k1');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(keyedIdentityHash(email, 'k1')).toBe(hash);
    expect(keyedIdentityHash(email, 'k2')).not.toBe(hash);
    expect(keyedIdentityHash({ kind: 'external', value: 'a@example.com', system: 's' }, 'k1')).not.toBe(hash);
    expect(keyedIdentityHash({ kind: 'external', value: '1', system: 'a' }, 'k1')).not.toBe(
      keyedIdentityHash({ kind: 'external', value: '1', system: 'b' }, 'k1'),
    );
  });

  it('keys ignore a system on e-mail and phone', () => {
    expect(identityKey({ kind: 'email', value: 'a@b.c', system: 'x' })).toBe(identityKey({ kind: 'email', value: 'a@b.c' }));
  });
});

describe('lookup keys', () => {
  it('keep their flag through normalization; two spellings are a lookup key only when both are', () => {
    expect(normalizeIdentity({ kind: 'email', value: ' A@Example.com ', lookup: true })).toEqual({
      ok: true,
      identity: { kind: 'email', value: 'a@example.com', lookup: true },
    });
    const both = normalizeIdentities([
      { kind: 'email', value: 'A@example.com', lookup: true },
      { kind: 'email', value: 'a@example.com' },
      { kind: 'phone', value: '+442079460958', lookup: true },
      { kind: 'phone', value: '+44 20 7946 0958', lookup: true },
    ]);
    expect(both.identities).toEqual([
      { kind: 'email', value: 'a@example.com' },
      { kind: 'phone', value: '+442079460958', lookup: true },
    ]);
  });
});
