import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { PreferenceLinks } from './links.js';

/** Signature and shape only: these paths never touch Redis. */
const noRedis = {} as Redis;

describe('preference links', () => {
  const links = new PreferenceLinks('s'.repeat(40), noRedis, '{t}', () => 1_000_000);

  it('round-trips a token to its profile, issue time and expiry; two tokens differ', () => {
    const a = links.issue('profile-1', 60_000);
    const b = links.issue('profile-1', 60_000);
    expect(a.token).not.toBe(b.token);
    expect(a.expiresAt).toBe(1_060_000);
    const parsed = links.parse(a.token);
    expect(parsed).toMatchObject({ ok: true, link: { profileId: 'profile-1', issuedAt: 1_000_000, expiresAt: 1_060_000 } });
  });

  it('refuses a token signed with another secret, an edited payload and junk', () => {
    const { token } = links.issue('profile-1', 60_000);
    const other = new PreferenceLinks('t'.repeat(40), noRedis, '{t}', () => 1_000_000);
    expect(other.parse(token)).toEqual({ ok: false, reason: 'bad_signature' });
    const [body, sig] = token.split('.') as [string, string];
    const edited = Buffer.from(Buffer.from(body, 'base64url').toString().replace('profile-1', 'profile-2')).toString('base64url');
    expect(links.parse(`${edited}.${sig}`)).toEqual({ ok: false, reason: 'bad_signature' });
    // The same signature bytes spelled differently (the last character's unused bits) are refused too.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = sig.slice(0, -1) + (alphabet[alphabet.indexOf(sig.slice(-1)) ^ 1] ?? '');
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    expect(links.parse(`${body}.${respelled}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(links.parse('junk')).toEqual({ ok: false, reason: 'malformed' });
    expect(links.parse('a.b.c')).toEqual({ ok: false, reason: 'malformed' });
    expect(links.parse('x'.repeat(700))).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses an expired token before asking Redis', async () => {
    const { token } = links.issue('profile-1', 10);
    const later = new PreferenceLinks('s'.repeat(40), noRedis, '{t}', () => 1_000_010);
    expect(await later.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });
});
