/**
 * Signed, expiring preference-center links, one profile each. A link is
 * `<base64url(payload)>.<base64url(HMAC-SHA256)>`, keyed by a key derived from
 * `hub.secrets.signing`; nothing in it can be changed without the key, and it names only its
 * own profile, so no URL reaches anyone else's data. Revoking a profile's links stores a
 * "not before" instant in Redis: links issued earlier stop opening.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { signatureMatches } from './signature.js';
import { z } from 'zod';
import type { RedisClient } from '../../queue/redis-health.js';

const Payload = z.object({
  v: z.literal(1),
  /** Profile id. */
  p: z.string().min(1).max(100),
  /** Issued at (ms). */
  iat: z.number().int().nonnegative(),
  /** Expires at (ms). */
  exp: z.number().int().nonnegative(),
  /** Random nonce: two links are never equal, and CSRF tokens bind to it. */
  n: z.string().min(8).max(32),
});
type Payload = z.infer<typeof Payload>;

export interface VerifiedLink {
  profileId: string;
  issuedAt: number;
  expiresAt: number;
  nonce: string;
}

export type LinkCheck = { ok: true; link: VerifiedLink } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' | 'revoked' };

/** A key for one purpose, derived from the signing secret (links and CSRF never share a key). */
export function deriveKey(secret: string, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`concord:${purpose}:v1`).digest();
}

export class PreferenceLinks {
  private readonly key: Buffer;

  constructor(
    signingSecret: string,
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = deriveKey(signingSecret, 'preference-link');
  }

  private revokedKey(profileId: string): string {
    return `${this.prefix}:pc:revoked-before:${profileId}`;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  /** Issues a link token for the profile, valid for `ttlMs`. */
  issue(profileId: string, ttlMs: number): { token: string; expiresAt: number } {
    const iat = this.now();
    const payload: Payload = { v: 1, p: profileId, iat, exp: iat + ttlMs, n: randomBytes(12).toString('base64url') };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { token: `${body}.${this.sign(body)}`, expiresAt: payload.exp };
  }

  /** Checks signature, expiry and revocation. Failures are values. */
  async verify(token: string): Promise<LinkCheck> {
    const parsed = this.parse(token);
    if (!parsed.ok) return parsed;
    const { link } = parsed;
    if (link.expiresAt <= this.now()) return { ok: false, reason: 'expired' };
    if (await this.isRevoked(link.profileId, link.issuedAt)) return { ok: false, reason: 'revoked' };
    return parsed;
  }

  /** True when the profile's links issued at `issuedAt` were revoked (also asked for the profile a merge kept). */
  async isRevoked(profileId: string, issuedAt: number): Promise<boolean> {
    const before = await this.redis.get(this.revokedKey(profileId));
    return before !== null && issuedAt < Number(before);
  }

  /** Signature and shape only (no clock, no Redis). */
  parse(token: string): LinkCheck {
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
    const p = payload.data;
    return { ok: true, link: { profileId: p.p, issuedAt: p.iat, expiresAt: p.exp, nonce: p.n } };
  }

  /**
   * Revokes every link of the profile issued before now; returns that instant (ms). It returns only
   * once the clock has passed the instant, so a link issued after it returns (even in the same
   * millisecond as the revocation) is not revoked.
   */
  async revokeAll(profileId: string): Promise<number> {
    // One millisecond later than now, so a link issued in this same millisecond is revoked too.
    const before = this.now() + 1;
    await this.redis.set(this.revokedKey(profileId), String(before));
    // A clock a test holds still never gets there: a few tries, then it is that clock's business.
    for (let tries = 0; tries < 5 && this.now() < before; tries++) await sleep(before - this.now());
    return before;
  }
}
