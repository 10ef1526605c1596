/**
 * The error bodies of Segment's three APIs, and which API a path belongs to.
 * - Tracking API: 200 for nearly everything, 400 for an oversized payload or bad JSON
 *   (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#errors); the
 *   400 body is not documented, so the emulator answers `{success: false, message}`.
 * - Profile API: `{error: {code, message}}`, codes authentication_error, invalid_request_error,
 *   rate_limit_error, validation_error, and `not_found` with "Profile was not found."
 *   (https://segment.com/docs/unify/profile-api/#errors).
 * - Public API: `{errors: [{type, message, field?, data?}]}`; 422 for invalid parameters, 404, 429
 *   with `data {msBeforeNext, remainingPoints, consumedPoints}`
 *   (https://docs.segmentapis.com/tag/Error-Handling, https://docs.segmentapis.com/tag/Rate-Limits).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SIDE_DOOR_PREFIX } from '../../../src/connector/emulator-kit/index.js';

export type SegmentApi = 'tracking' | 'profiles' | 'public' | 'side-door';

/** Which API a request path is for (one server answers all three hosts' paths). */
export function apiOf(url: string): SegmentApi {
  if (url.startsWith(`${SIDE_DOOR_PREFIX}/`)) return 'side-door';
  if (url.startsWith('/v1/spaces/')) return 'profiles';
  if (url.startsWith('/v1/')) return 'tracking';
  return 'public';
}

/** The Public API's media type; answers use it when the request did. */
export const PUBLIC_API_MEDIA_TYPE = 'application/vnd.segment.v1+json';

export type ProfileErrorCode = 'authentication_error' | 'invalid_request_error' | 'rate_limit_error' | 'validation_error' | 'not_found';

export function sendProfileError(reply: FastifyReply, status: number, code: ProfileErrorCode, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

export function sendTrackingError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ success: false, message });
}

export interface PublicApiError {
  type: string;
  message: string;
  field?: string;
  data?: Record<string, unknown>;
}

export function sendPublicError(reply: FastifyReply, status: number, errors: PublicApiError[]): FastifyReply {
  const accept = `${String(reply.request.headers.accept ?? '')} ${String(reply.request.headers['content-type'] ?? '')}`;
  return reply
    .code(status)
    .type(accept.includes(PUBLIC_API_MEDIA_TYPE) ? PUBLIC_API_MEDIA_TYPE : 'application/json')
    .send({ errors });
}

const statusOf = (err: unknown): number =>
  typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;

/**
 * JSON bodies of every API (`application/json` and the Public API's `+json` media type), kept with
 * their size in bytes (the Tracking API's limits); a malformed body is a 400 in the API's own shape.
 */
export function registerBodyParsing(app: FastifyInstance, sizes: WeakMap<object, number>): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.-]+\+)?json/, { parseAs: 'string', bodyLimit: 4 * 1024 * 1024 }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    sizes.set(req, Buffer.byteLength(text));
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(Object.assign(new Error('Invalid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: unknown, req, reply) => {
    const status = statusOf(err);
    const message = err instanceof Error ? err.message : 'error';
    switch (apiOf(req.url)) {
      case 'side-door':
        return reply.code(status === 500 ? 400 : status).send({ message });
      case 'tracking':
        // A body past the server's own ceiling is, to Segment, one more oversized payload: 400.
        return sendTrackingError(reply, status === 413 ? 400 : status, status >= 500 ? 'Internal Server Error' : message);
      case 'profiles':
        return status >= 500
          ? sendProfileError(reply, 500, 'invalid_request_error', 'Internal Server Error')
          : sendProfileError(reply, status, 'invalid_request_error', message);
      default:
        return sendPublicError(reply, status, [{ type: status >= 500 ? 'internal' : 'input-validation', message }]);
    }
  });
  app.setNotFoundHandler((req, reply) => {
    switch (apiOf(req.url)) {
      case 'profiles':
        return sendProfileError(reply, 404, 'not_found', 'Resource was not found.');
      case 'tracking':
      case 'side-door':
        return reply.code(404).send({ message: 'Not Found' });
      default:
        return sendPublicError(reply, 404, [{ type: 'not-found', message: 'Resource not found' }]);
    }
  });
}
