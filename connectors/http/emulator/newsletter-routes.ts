/**
 * The newsletter tool's API under `/newsletter/api` (`X-API-Key`, checked by the server):
 * subscribers listed by offset in `(modified, subscriber_id)` order with an RFC 8288
 * `Link: <next>; rel="next"` header, read bare, upserted in batches of at most 500 (one result per
 * operation, in order) and deleted; errors `{message}`. The `concord-events` inbox takes the hub's
 * Standard Webhooks (`inbox.ts`).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { INBOX_PATH, sendNewsletterError } from './errors.js';
import { registerInboxRoute, type Inbox } from './inbox.js';
import type { NewsletterState } from './newsletter-state.js';
import { NEWSLETTER_PREFIX } from './options.js';
import { RecordError } from './records.js';

/** Subscribers per page at most. */
export const NEWSLETTER_MAX_PAGE = 200;
/** Operations per batch at most (more: 413). */
export const MAX_BATCH_OPERATIONS = 500;

const ListQuery = z.object({
  modified_after: z.coerce.number().int().min(0).optional(),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(NEWSLETTER_MAX_PAGE).default(100),
  email: z.string().min(1).optional(),
});
const IdParams = z.object({ id: z.string() });
const BatchBody = z.object({ operations: z.array(z.object({ ref: z.string() }).loose()) });

/** One operation's result in a batch answer. */
export type BatchResult =
  | { ref: string; status: 'ok'; subscriber_id: string; created: boolean }
  | { ref: string; status: 'error'; error: { code: RecordError['code']; message: string } };

export function registerNewsletterRoutes(app: FastifyInstance, state: NewsletterState, inbox: Inbox): void {
  const P = NEWSLETTER_PREFIX;

  app.get(`${P}/subscribers`, async (req, reply) => {
    const parsed = ListQuery.safeParse(req.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return sendNewsletterError(reply, 400, `${issue?.path.map(String).join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
    }
    const q = parsed.data;
    const matching = state.list({
      ...(q.modified_after === undefined ? {} : { modifiedAfter: q.modified_after }),
      ...(q.email === undefined ? {} : { email: q.email }),
    });
    if (q.offset + q.limit < matching.length) {
      const query = new URLSearchParams(Object.entries(req.query ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
      query.set('offset', String(q.offset + q.limit));
      query.set('limit', String(q.limit));
      void reply.header('Link', `<${req.protocol}://${req.host}${P}/subscribers?${query.toString()}>; rel="next"`);
    }
    return { subscribers: matching.slice(q.offset, q.offset + q.limit), total: matching.length };
  });

  app.get(`${P}/subscribers/:id`, async (req, reply) => {
    const { id } = IdParams.parse(req.params);
    try {
      return state.get(id);
    } catch (e) {
      if (e instanceof RecordError) return sendNewsletterError(reply, 404, e.message);
      throw e;
    }
  });

  app.post(`${P}/subscribers/batch`, async (req, reply) => {
    const body = BatchBody.safeParse(req.body);
    if (!body.success) return sendNewsletterError(reply, 400, 'operations: an array of objects, each with a string ref');
    const { operations } = body.data;
    if (operations.length > MAX_BATCH_OPERATIONS) {
      return sendNewsletterError(reply, 413, `at most ${MAX_BATCH_OPERATIONS} operations per batch (${operations.length} sent)`);
    }
    const results = operations.map((operation): BatchResult => {
      try {
        const { subscriber, created } = state.upsert(operation, 'api');
        return { ref: operation.ref, status: 'ok', subscriber_id: subscriber.subscriber_id, created };
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        return { ref: operation.ref, status: 'error', error: { code: e.code, message: e.message } };
      }
    });
    return { results };
  });

  app.delete(`${P}/subscribers/:id`, async (req, reply) => {
    const { id } = IdParams.parse(req.params);
    try {
      state.delete(id);
      return reply.code(204).send();
    } catch (e) {
      if (e instanceof RecordError) return sendNewsletterError(reply, 404, e.message);
      throw e;
    }
  });

  registerInboxRoute(app, `${P}${INBOX_PATH}`, inbox, sendNewsletterError);
}
