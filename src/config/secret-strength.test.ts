import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { REQUIRED_SECRET_BITS, secretStrength } from './secret-strength.js';

const strong = (value: string): boolean => secretStrength(value).bits >= REQUIRED_SECRET_BITS;

describe('secretStrength', () => {
  it('passes 32 random bytes however they are written: base64url, base64 (with padding) and hex', () => {
    for (let i = 0; i < 2_000; i++) {
      const bytes = randomBytes(32);
      for (const encoding of ['base64url', 'base64', 'hex'] as const) {
        const value = bytes.toString(encoding);
        expect(secretStrength(value).weakness, `${encoding} ${value}`).toBeUndefined();
      }
    }
  });

  it('passes longer random values too', () => {
    expect(strong(randomBytes(64).toString('base64url'))).toBe(true);
    expect(strong(randomBytes(48).toString('hex'))).toBe(true);
  });

  it('refuses fewer than 32 random bytes: 16 bytes of hex or base64, 31 bytes of base64url, a UUID', () => {
    expect(secretStrength(randomBytes(16).toString('hex'))).toMatchObject({ bits: 128, weakness: 'short' });
    expect(secretStrength(randomBytes(24).toString('base64'))).toMatchObject({ weakness: 'short' });
    expect(strong(randomBytes(31).toString('base64url'))).toBe(false);
    expect(strong(randomBytes(31).toString('hex'))).toBe(false);
    expect(strong(randomUUID())).toBe(false);
  });

  it('refuses repeated characters and low variety, whatever the length', () => {
    expect(secretStrength('k'.repeat(64))).toMatchObject({ bits: 0, weakness: 'variety' });
    expect(secretStrength('s'.repeat(200))).toMatchObject({ bits: 0, weakness: 'variety' });
    expect(secretStrength('ab'.repeat(100))).toMatchObject({ weakness: 'variety' });
    expect(secretStrength('abcdefg'.repeat(40)).weakness).toBeDefined();
  });

  it('refuses repeats and sequences inside a long value', () => {
    const random = randomBytes(20).toString('base64url');
    expect(secretStrength(random + random + random)).toMatchObject({ weakness: 'patterns' });
    expect(secretStrength(`${'0123456789abcdef'.repeat(4)}`)).toMatchObject({ weakness: 'patterns' });
    expect(secretStrength('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_')).toMatchObject({ weakness: 'patterns' });
    expect(secretStrength(`${randomBytes(24).toString('base64url')}${'Z'.repeat(20)}`)).toMatchObject({ weakness: 'patterns' });
  });

  it('refuses the shapes of the test values in this repository (words and counting)', () => {
    for (const value of [
      'chaos-signing-secret-0123456789abcdef0123456789',
      'test-signing-secret-0123456789abcdef0123456789',
      'admin-key-0123456789abcdef0123456789',
      'dsr-key-0123456789abcdef0123456789abcd',
      'privacy-signing-secret-0123456789abcdef0123456789',
    ]) {
      expect(strong(value), value).toBe(false);
    }
  });

  it('counts an empty value as nothing', () => {
    expect(secretStrength('')).toMatchObject({ bits: 0, weakness: 'short' });
  });
});
