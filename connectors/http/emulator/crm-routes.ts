/**
 * The CRM's REST API under `/crm/v1` (bearer auth, checked by the server): contacts listed with
 * an opaque cursor and a `links.next` URL in `(updated_at, id)` order, read, created, patched,
 * deleted and exported; errors `{error: {code, message, field?, existing_id?}}`. The
 * `concord-events` inbox takes the hub's Standard Webhooks (`inbox.ts`).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { CrmState, ContactPosition } from './crm-state.js';
import { INBOX_PATH, sendCrmError, sendCrmRecordError } from './errors.js';
import { registerInboxRoute, type Inbox } from './inbox.js';
import { CRM_PREFIX } from './options.js';
import { invalidFrom, RecordError } from './records.js';

/** Contacts per page at most. */
export const CRM_MAX_PAGE = 100;

const ListQuery = z.object({
  updated_since: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(CRM_MAX_PAGE).default(50),
  email: z.string().min(1).optional(),
  phone: z.string().min(1).optional(),
});
const Cursor = z.tuple([z.iso.datetime(), z.string()]);
const IdParams = z.object({ id: z.string() });
const WriteBody = z.object({ data: z.record(z.string(), z.unknown()) });

/** The opaque cursor of a position: base64url of `[updated_at, id]`. */
export const encodeCursor = (p: ContactPosition): string => Buffer.from(JSON.stringify([p.updatedAt, p.id])).toString('base64url');

function decodeCursor(cursor: string): ContactPosition {
  try {
    const [updatedAt, id] = Cursor.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { updatedAt, id };
  } catch {
    throw new RecordError('invalid', 'cursor: not a cursor this API returned', { field: 'cursor' });
  }
}

/** Runs a handler; a refused write or lookup becomes the CRM's 404 / 409 / 422. */
async function answering(reply: FastifyReply, fn: () => unknown): Promise<unknown> {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RecordError) return sendCrmRecordError(reply, e);
    throw e;
  }
}

/** The absolute URL of this request's path with `query`. */
function urlWith(req: FastifyRequest, query: URLSearchParams): string {
  return `${req.protocol}://${req.host}${req.url.split('?')[0] ?? ''}?${query.toString()}`;
}

export function registerCrmRoutes(app: FastifyInstance, state: CrmState, inbox: Inbox): void {
  const P = CRM_PREFIX;

  app.get(`${P}/contacts`, async (req, reply) =>
    answering(reply, () => {
      const parsed = ListQuery.safeParse(req.query);
      if (!parsed.success) throw invalidFrom(parsed.error, 'query');
      const q = parsed.data;
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const matching = state.list({
        ...(q.updated_since === undefined ? {} : { since: q.updated_since }),
        ...(after === undefined ? {} : { after }),
        ...(q.email === undefined ? {} : { email: q.email }),
        ...(q.phone === undefined ? {} : { phone: q.phone }),
      });
      const data = matching.slice(0, q.limit);
      const last = data.at(-1);
      const nextCursor = matching.length > q.limit && last ? encodeCursor({ updatedAt: last.updated_at, id: last.id }) : null;
      let next: string | null = null;
      if (nextCursor !== null) {
        const query = new URLSearchParams(Object.entries(req.query ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'));
        query.set('cursor', nextCursor);
        next = urlWith(req, query);
      }
      return { data, next_cursor: nextCursor, links: { next } };
    }),
  );

  app.get(`${P}/contacts/:id`, async (req, reply) => answering(reply, () => ({ data: state.get(IdParams.parse(req.params).id) })));

  app.get(`${P}/contacts/:id/export`, async (req, reply) =>
    answering(reply, () => {
      const { id } = IdParams.parse(req.params);
      return { data: state.get(id), notes: state.notesOf(id) };
    }),
  );

  app.post(`${P}/contacts`, async (req, reply) =>
    answering(reply, () => {
      const body = WriteBody.safeParse(req.body);
      if (!body.success) return sendCrmError(reply, 422, 'invalid', 'data: required', { field: 'data' });
      return reply.code(201).send({ data: state.create(body.data.data, 'api') });
    }),
  );

  app.patch(`${P}/contacts/:id`, async (req, reply) =>
    answering(reply, () => {
      const { id } = IdParams.parse(req.params);
      const body = WriteBody.safeParse(req.body);
      if (!body.success) return sendCrmError(reply, 422, 'invalid', 'data: required', { field: 'data' });
      return { data: state.update(id, body.data.data, 'api') };
    }),
  );

  app.delete(`${P}/contacts/:id`, async (req, reply) =>
    answering(reply, () => {
      state.delete(IdParams.parse(req.params).id);
      return reply.code(204).send();
    }),
  );

  registerInboxRoute(app, `${P}${INBOX_PATH}`, inbox, (reply, status, message) =>
    sendCrmError(reply, status, status === 401 ? 'unauthorized' : 'bad_request', message),
  );
}
