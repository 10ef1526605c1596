/**
 * The security headers of every response (helmet: CSP, nosniff, no-referrer, frame options...)
 * and the two that only make sense over https, HSTS and CSP `upgrade-insecure-requests`, only
 * on responses served over https: on the plain-http hub of development mode they would tell a
 * browser to reach `http://localhost` over https, which does not answer.
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** One year, subdomains included (helmet's default). */
const HSTS = 'max-age=31536000; includeSubDomains';

/** The last protocol named in `X-Forwarded-Proto` (the proxy nearest the hub appends last), lower-cased. */
function forwardedProto(request: FastifyRequest): string | undefined {
  const header = request.headers['x-forwarded-proto'];
  const value = Array.isArray(header) ? header.at(-1) : header;
  return value?.split(',').at(-1)?.trim().toLowerCase();
}

/**
 * Whether a request is served over https: yes over a TLS socket or when a proxy Fastify trusts
 * (its `trustProxy`) reports https (`request.protocol`); no when a proxy reports http (trusted
 * or not: a client can only strip these headers from its own answer that way); otherwise as
 * the public URL says, since the hub is reached through it (in production, an https URL in
 * front of a TLS-terminating proxy).
 */
export function servedOverHttps(request: FastifyRequest, publicUrlIsHttps: boolean): boolean {
  if (request.protocol === 'https') return true;
  if (forwardedProto(request) === 'http') return false;
  return publicUrlIsHttps;
}

/** Registers the headers on every route of `app`. */
export async function registerSecurityHeaders(app: FastifyInstance, options: { publicUrl: string }): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      // No remote styles or fonts (helmet's defaults allow any https: source for both): every
      // page of the hub, the queue board included, uses what the hub serves and the system's fonts.
      directives: {
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'font-src': ["'self'", 'data:'],
        'upgrade-insecure-requests': null,
      },
    },
    // Personal pages must not leak their URL (it carries the link token) to other sites.
    referrerPolicy: { policy: 'no-referrer' },
    strictTransportSecurity: false,
  });
  const publicUrlIsHttps = new URL(options.publicUrl).protocol === 'https:';
  // Runs after helmet's own hook, which has set the headers on the raw response.
  app.addHook('onRequest', async (request, reply) => {
    if (!servedOverHttps(request, publicUrlIsHttps)) return;
    reply.raw.setHeader('strict-transport-security', HSTS);
    const policy = reply.raw.getHeader('content-security-policy');
    if (typeof policy === 'string') reply.raw.setHeader('content-security-policy', `${policy};upgrade-insecure-requests`);
  });
}
