/** Each system's credentials and rate window. */
import type { FastifyRequest } from 'fastify';
import type { RateWindow } from './options.js';

/** Whether the CRM request carries `Authorization: Bearer <token>`. */
export const hasBearer = (req: FastifyRequest, token: string): boolean => req.headers.authorization === `Bearer ${token}`;

/** Whether the newsletter request carries `X-API-Key: <key>`. */
export const hasApiKey = (req: FastifyRequest, key: string): boolean => req.headers['x-api-key'] === key;

/** At most `max` calls per `intervalMs`; the window starts with its first call. */
export class CallWindow {
  private start = Number.NEGATIVE_INFINITY;
  private taken = 0;

  constructor(
    private readonly window: RateWindow,
    private readonly now: () => number,
  ) {}

  /** Takes one call, or answers the whole seconds until the window reopens (at least 1). */
  take(): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const t = this.now();
    if (t >= this.start + this.window.intervalMs) {
      this.start = t;
      this.taken = 0;
    }
    if (this.taken < this.window.max) {
      this.taken += 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((this.start + this.window.intervalMs - t) / 1000)) };
  }
}
