/**
 * Short-lived signed download links for exports made in the preference center:
 * `<base64url(payload)>.<base64url(HMAC-SHA256)>`, keyed by a key derived from the signing
 * secret. A link names one export request and its person, and expires (15 minutes by default).
 */
import { createHmac } from 'node:crypto';
import { signatureMatches } from './signature.js';
import { z } from 'zod';
import { deriveKey } from './links.js';

const Payload = z.object({
  v: z.literal(1),
  /** Request id. */
  d: z.string().min(1).max(100),
  /** Profile id. */
  p: z.string().min(1).max(100),
  /** Expires at (ms). */
  exp: z.number().int().nonnegative(),
});

export type DownloadCheck =
  { ok: true; dsrId: string; profileId: string } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export class DownloadLinks {
  private readonly key: Buffer;

  constructor(
    signingSecret: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = deriveKey(signingSecret, 'dsr-download');
  }

  get ttl(): number {
    return this.ttlMs;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  issue(dsrId: string, profileId: string): string {
    const body = Buffer.from(JSON.stringify({ v: 1, d: dsrId, p: profileId, exp: this.now() + this.ttlMs })).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  verify(token: string): DownloadCheck {
    if (token.length > 600) return { ok: false, reason: 'malformed' };
    const dot = token.indexOf('.');
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return { ok: false, reason: 'malformed' };
    const body = token.slice(0, dot);
    if (!signatureMatches(token.slice(dot + 1), this.sign(body))) return { ok: false, reason: 'bad_signature' };
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const payload = Payload.safeParse(json);
    if (!payload.success) return { ok: false, reason: 'malformed' };
    if (payload.data.exp <= this.now()) return { ok: false, reason: 'expired' };
    return { ok: true, dsrId: payload.data.d, profileId: payload.data.p };
  }
}
