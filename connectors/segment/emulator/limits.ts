/**
 * Credentials and rate windows of the three Segment APIs: Basic auth with the key as user name
 * and an empty password (Tracking API write key, Profile API access token), a bearer token (Public
 * API); the Profile API's rolling one-second window per space, and the Public API's per-minute
 * windows (regulation creates in two quotas, other calls in one).
 */
import type { FastifyRequest } from 'fastify';

/** The user name of a Basic-auth request (the key; the password is empty), or undefined. */
export function basicUser(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !auth.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  return user === '' ? undefined : user;
}

/** The token of a `Bearer` request, or undefined. */
export function bearerToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !auth.startsWith('Bearer ')) return undefined;
  const token = auth.slice(7).trim();
  return token === '' ? undefined : token;
}

/** Whether a presented key is accepted (a non-empty one, or exactly the configured one). */
export const accepts = (presented: string | undefined, required: string | undefined): presented is string =>
  presented !== undefined && (required === undefined || presented === required);

/** At most `max` requests per key in any `windowMs` (a rolling window). */
export class RollingWindow {
  private readonly hits = new Map<string, number[]>();

  constructor(
    public max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Counts the request, or answers how long until one is allowed (ms). */
  take(key: string): { ok: true } | { ok: false; retryAfterMs: number } {
    const t = this.now();
    const recent = (this.hits.get(key) ?? []).filter((at) => at > t - this.windowMs);
    if (recent.length >= this.max) {
      this.hits.set(key, recent);
      return { ok: false, retryAfterMs: (recent[0] ?? t) + this.windowMs - t };
    }
    recent.push(t);
    this.hits.set(key, recent);
    return { ok: true };
  }
}

/** What a fixed window says after a request: Segment's `X-RateLimit-*` headers and 429 `data`. */
export interface WindowState {
  ok: boolean;
  remaining: number;
  consumed: number;
  resetAt: number;
}

/** At most `max` requests per key per window; the window starts with its first request. */
export class FixedWindow {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    public max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  take(key: string): WindowState {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t >= w.start + this.windowMs) {
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    const ok = w.count < this.max;
    if (ok) w.count += 1;
    return { ok, remaining: this.max - w.count, consumed: w.count, resetAt: w.start + this.windowMs };
  }
}
