/**
 * Which system a path belongs to, and each system's error bodies: the CRM answers
 * `{error: {code, message, ...}}`, the newsletter tool `{message}`. JSON bodies are parsed here,
 * except at the `concord-events` inboxes, which keep the raw text their signature covers.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SIDE_DOOR_PREFIX } from '../../../src/connector/emulator-kit/index.js';
import { CRM_PREFIX, NEWSLETTER_PREFIX, type HttpSystem } from './options.js';
import type { RecordError } from './records.js';

export type Area = HttpSystem | 'side-door' | 'other';

/** The system (or the side door) a request path is for. */
export function areaOf(url: string): Area {
  if (url.startsWith(`${SIDE_DOOR_PREFIX}/`)) return 'side-door';
  if (url === CRM_PREFIX || url.startsWith(`${CRM_PREFIX}/`) || url.startsWith(`${CRM_PREFIX}?`)) return 'crm';
  if (url === NEWSLETTER_PREFIX || url.startsWith(`${NEWSLETTER_PREFIX}/`) || url.startsWith(`${NEWSLETTER_PREFIX}?`)) return 'newsletter';
  return 'other';
}

/** The path under each system where the hub's webhooks are received. */
export const INBOX_PATH = '/concord-events';
const isInbox = (url: string): boolean => url.split('?')[0]?.endsWith(INBOX_PATH) ?? false;

export type CrmErrorCode = 'unauthorized' | 'not_found' | 'duplicate' | 'invalid' | 'rate_limited' | 'bad_request' | 'internal';

export function sendCrmError(
  reply: FastifyReply,
  status: number,
  code: CrmErrorCode,
  message: string,
  extra: { field?: string; existing_id?: string } = {},
): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code, message, ...extra } });
}

/** A CRM write or lookup refused: 404, 409 (with `existing_id`) or 422 (with `field`). */
export function sendCrmRecordError(reply: FastifyReply, error: RecordError): FastifyReply {
  switch (error.code) {
    case 'not_found':
      return sendCrmError(reply, 404, 'not_found', error.message);
    case 'duplicate':
      return sendCrmError(reply, 409, 'duplicate', error.message, { existing_id: error.detail.existingId ?? '' });
    default:
      return sendCrmError(reply, 422, 'invalid', error.message, { field: error.detail.field ?? 'data' });
  }
}

export function sendNewsletterError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ message });
}

/** The error body of a system for a status: the side door's and unknown paths' are `{message}`. */
export function sendAreaError(reply: FastifyReply, area: Area, status: number, message: string): FastifyReply {
  if (area !== 'crm') return sendNewsletterError(reply, status, message);
  const code: CrmErrorCode =
    status === 401
      ? 'unauthorized'
      : status === 404
        ? 'not_found'
        : status === 429
          ? 'rate_limited'
          : status >= 500
            ? 'internal'
            : 'bad_request';
  return sendCrmError(reply, status, code, message);
}

const statusOf = (err: unknown): number =>
  typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : 500;

/** JSON bodies (raw text at the inboxes), and each system's body for malformed requests, unknown routes and failures. */
export function registerBodyParsing(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(/^application\/([\w.-]+\+)?json/, { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (isInbox(req.url)) return done(null, text);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: unknown, req, reply) => {
    const area = areaOf(req.url);
    const raw = statusOf(err);
    // A side-door action refused (e.g. a zod error on its body) is the caller's mistake.
    const status = area === 'side-door' && raw === 500 ? 400 : raw;
    return sendAreaError(reply, area, status, status >= 500 ? 'internal error' : err instanceof Error ? err.message : 'error');
  });
  app.setNotFoundHandler((req, reply) => sendAreaError(reply, areaOf(req.url), 404, 'no such route'));
}
