/**
 * Basic auth with the API key as the password, and Mailchimp's ceiling of 10 simultaneous
 * connections per API key (one more is answered 429). The peak in flight is recorded for the
 * connector's measurement.
 * https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { problem, sendProblem } from './errors.js';

/** The API key of a Basic-auth request (any user name), or undefined. */
export function apiKeyOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !auth.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const key = colon < 0 ? '' : decoded.slice(colon + 1);
  return key === '' ? undefined : key;
}

/** A short, stable name for an API key (state is keyed by it, never by the key itself). */
export const keyId = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 16);

export function refuseUnauthenticated(reply: FastifyReply): FastifyReply {
  return sendProblem(
    reply,
    problem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter."),
  );
}

/** Counts requests in flight per API key. */
export class InFlightLimiter {
  private readonly inFlight = new Map<string, number>();
  private peak = 0;

  constructor(public max: number) {}

  /** Admits the request or answers 429; an admitted request is released when its response closes. */
  admit(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const key = keyId(apiKeyOf(req) ?? '');
    const current = this.inFlight.get(key) ?? 0;
    if (current >= this.max) {
      return sendProblem(reply, problem(429, 'Too Many Requests', `You have exceeded the limit of ${this.max} simultaneous connections.`));
    }
    this.inFlight.set(key, current + 1);
    this.peak = Math.max(this.peak, current + 1);
    reply.raw.once('close', () => this.inFlight.set(key, (this.inFlight.get(key) ?? 1) - 1));
    return undefined;
  }

  /** The most requests in flight at once for any key since the start (or `resetPeak`). */
  peakInFlight(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = Math.max(0, ...this.inFlight.values());
  }
}
