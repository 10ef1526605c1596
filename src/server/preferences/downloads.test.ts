import { describe, expect, it } from 'vitest';
import { DownloadLinks } from './downloads.js';

describe('download links', () => {
  const secret = 's'.repeat(40);

  it('opens only the request and person it names, until it expires', () => {
    let now = 1_000_000;
    const links = new DownloadLinks(secret, 15 * 60_000, () => now);
    const token = links.issue('req-1', 'p-1');
    expect(links.verify(token)).toEqual({ ok: true, dsrId: 'req-1', profileId: 'p-1' });
    now += 15 * 60_000;
    expect(links.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a changed, foreign or malformed link', () => {
    const links = new DownloadLinks(secret, 60_000);
    const token = links.issue('req-1', 'p-1');
    const [body = '', sig = ''] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, d: 'req-2', p: 'p-1', exp: Date.now() + 60_000 })).toString('base64url');
    expect(links.verify(`${forged}.${sig}`)).toEqual({ ok: false, reason: 'bad_signature' });
    // The same signature bytes spelled differently (the last character's unused bits) are refused too.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const respelled = sig.slice(0, -1) + (alphabet[alphabet.indexOf(sig.slice(-1)) ^ 1] ?? '');
    expect(Buffer.from(respelled, 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    expect(links.verify(`${body}.${respelled}`)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(new DownloadLinks('t'.repeat(40), 60_000).verify(token)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(links.verify(body)).toEqual({ ok: false, reason: 'malformed' });
    expect(links.verify(`${token}.x`)).toEqual({ ok: false, reason: 'malformed' });
  });
});
