/**
 * The Public API's regulations (`api.segmentapis.com`): `POST /regulations`,
 * `GET /regulations/:regulateId`, `GET /regulations`.
 * - Auth: `Authorization: Bearer <token>`; media type `application/vnd.segment.v1+json` (plain
 *   `application/json` too); answers in the media type the request used.
 * - Create: `{regulationType, subjectType: USER_ID|OBJECT_ID, subjectIds: 1..5000}` ->
 *   200 `{data: {regulateId}}`; invalid input is a 422 `{errors: [{type, message, field}]}`
 *   (https://docs.segmentapis.com/tag/Error-Handling: 422 "invalid parameters").
 * - Rate limits (https://docs.segmentapis.com/tag/Rate-Limits): every answer carries
 *   `X-RateLimit-Consumed`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`, the latter a
 *   timestamp in RFC 5322 format (an HTTP date, not seconds); over the limit a 429
 *   `{errors: [{type: 'RequestError', message, data: {msBeforeNext, remainingPoints, consumedPoints}}]}`.
 *   The docs name no Retry-After for the Public API; the emulator sends none. Creates are limited
 *   to 600/min, counted apart for DELETE_ONLY and SUPPRESS_WITH_DELETE (they reach destinations)
 *   and for the Segment-only types; other calls share one per-minute window.
 * - Status: INITIALIZED, then RUNNING after `regulationStepMs`, then FINISHED (or the outcome the
 *   side door forced: FAILED, PARTIAL_SUCCESS) after twice that, on the emulator clock.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PUBLIC_API_MEDIA_TYPE, sendPublicError, type PublicApiError } from './errors.js';
import { accepts, bearerToken, type FixedWindow, type WindowState } from './limits.js';
import type { SegmentEmulatorOptions } from './options.js';
import { DESTINATION_REGULATION_TYPES, REGULATION_TYPES, type RegulationType, type SegmentState, type StoredRegulation } from './state.js';

/** Subject ids one regulation takes at most. */
export const MAX_SUBJECT_IDS = 5000;

export interface RegulationDeps {
  state: SegmentState;
  options: Pick<SegmentEmulatorOptions, 'publicApiToken'>;
  /** Regulation creates, keyed by quota. */
  creates: FixedWindow;
  /** Every other Public API call. */
  requests: FixedWindow;
  /** Counts a call refused for a limit (the call ledger's `rateLimited`). */
  refused(): void;
}

export function authenticatePublicApi(req: FastifyRequest, reply: FastifyReply, token: string | undefined): FastifyReply | undefined {
  return accepts(bearerToken(req), token) ? undefined : sendPublicError(reply, 401, [{ type: 'unauthorized', message: 'Unauthorized' }]);
}

function rateHeaders(reply: FastifyReply, w: WindowState): void {
  void reply.headers({
    'X-RateLimit-Consumed': String(w.consumed),
    'X-RateLimit-Remaining': String(w.remaining),
    'X-RateLimit-Reset': new Date(w.resetAt).toUTCString(),
  });
}

/** Takes a request from a window; the 429 answer when it is spent. */
function charge(reply: FastifyReply, deps: RegulationDeps, window: FixedWindow, key: string, now: number): FastifyReply | undefined {
  const w = window.take(key);
  rateHeaders(reply, w);
  if (w.ok) return undefined;
  deps.refused();
  return sendPublicError(reply, 429, [
    {
      type: 'RequestError',
      message: 'Too many requests',
      data: { msBeforeNext: Math.max(0, w.resetAt - now), remainingPoints: w.remaining, consumedPoints: w.consumed },
    },
  ]);
}

function send(reply: FastifyReply, body: unknown): FastifyReply {
  const req = reply.request;
  const asked = `${String(req.headers.accept ?? '')} ${String(req.headers['content-type'] ?? '')}`;
  return reply
    .code(200)
    .type(asked.includes(PUBLIC_API_MEDIA_TYPE) ? PUBLIC_API_MEDIA_TYPE : 'application/json')
    .send(body);
}

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A regulation as `GET /regulations/:id` answers it. */
export function regulationJson(state: SegmentState, r: StoredRegulation): Record<string, unknown> {
  const { status, finishedAt } = state.regulationStatus(r);
  return {
    id: r.id,
    workspaceId: r.workspaceId,
    overallStatus: status,
    createdAt: iso(r.createdAt),
    ...(finishedAt === undefined ? {} : { finishedAt: iso(finishedAt) }),
    streamStatus: [
      {
        id: `${r.id}-stream`,
        status,
        destinationStatus: DESTINATION_REGULATION_TYPES.includes(r.regulationType)
          ? [
              {
                name: 'Webhooks (Actions)',
                id: `${r.id}-webhooks`,
                status,
                errString: status === 'FAILED' || status === 'PARTIAL_SUCCESS' ? 'destination did not confirm the deletion' : '',
                ...(finishedAt === undefined ? {} : { finishedAt: iso(finishedAt) }),
              },
            ]
          : [],
        warehouseStatus: [],
      },
    ],
  };
}

/** The create body's problems, in the Public API's error shape. */
function validate(
  body: unknown,
): { ok: true; value: Pick<StoredRegulation, 'regulationType' | 'subjectType' | 'subjectIds'> } | { ok: false; errors: PublicApiError[] } {
  const schema = z.object({
    regulationType: z.enum(REGULATION_TYPES),
    subjectType: z.enum(['USER_ID', 'OBJECT_ID']),
    subjectIds: z.array(z.string().min(1)).min(1).max(MAX_SUBJECT_IDS),
  });
  const r = schema.safeParse(body ?? {});
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    errors: r.error.issues.map((i) => ({
      type: 'input-validation',
      message: `"${i.path.join('.')}" ${i.message}`,
      field: i.path.join('.'),
    })),
  };
}

const ListQuery = z.object({
  regulationTypes: z.string().optional(),
  status: z.string().optional(),
  'pagination.count': z.coerce.number().int().min(1).max(200).default(10),
  'pagination.cursor': z.string().optional(),
});

export function registerRegulationRoutes(app: FastifyInstance, deps: RegulationDeps, now: () => number): void {
  const { state } = deps;

  // The workspace's regulations, and those scoped to one source (`/regulations/sources/{sourceId}`), alike here.
  const create = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const input = validate(req.body);
    if (!input.ok) {
      rateHeaders(reply, deps.requests.take('reads'));
      return sendPublicError(reply, 422, input.errors);
    }
    const quota = DESTINATION_REGULATION_TYPES.includes(input.value.regulationType) ? 'destination' : 'segment';
    const refused = charge(reply, deps, deps.creates, quota, now());
    if (refused) return refused;
    const regulation = state.createRegulation(input.value);
    return send(reply, { data: { regulateId: regulation.id } });
  };
  app.post('/regulations', create);
  app.post('/regulations/sources/:sourceId', create);

  app.get('/regulations/:regulateId', async (req, reply) => {
    const refused = charge(reply, deps, deps.requests, 'reads', now());
    if (refused) return refused;
    state.settle();
    const { regulateId } = z.object({ regulateId: z.string() }).parse(req.params);
    const regulation = state.regulations.get(regulateId);
    if (!regulation) return sendPublicError(reply, 404, [{ type: 'not-found', message: 'Resource not found' }]);
    return send(reply, { data: { regulation: regulationJson(state, regulation) } });
  });

  app.get('/regulations', async (req, reply) => {
    const refused = charge(reply, deps, deps.requests, 'reads', now());
    if (refused) return refused;
    state.settle();
    const q = ListQuery.parse(req.query);
    const types = q.regulationTypes?.split(',') as RegulationType[] | undefined;
    const all = [...state.regulations.values()]
      .filter((r) => types === undefined || types.includes(r.regulationType))
      .map((r) => regulationJson(state, r))
      .filter((r) => q.status === undefined || r['overallStatus'] === q.status);
    const start = q['pagination.cursor'] === undefined ? 0 : Number(Buffer.from(q['pagination.cursor'], 'base64url').toString('utf8')) || 0;
    const end = start + q['pagination.count'];
    const next = end < all.length ? Buffer.from(String(end), 'utf8').toString('base64url') : undefined;
    return send(reply, {
      data: {
        regulations: all.slice(start, end),
        pagination: {
          current: q['pagination.cursor'] ?? Buffer.from('0', 'utf8').toString('base64url'),
          ...(next ? { next } : {}),
          totalEntries: all.length,
        },
      },
    });
  });
}
