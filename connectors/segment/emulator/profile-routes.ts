/**
 * The Profile API (`profiles.segment.com`), users collection:
 * `GET /v1/spaces/:spaceId/collections/users/profiles/:identifier/{traits,external_ids,metadata}`,
 * the identifier `user_id:X`, `email:X` or `anonymous_id:X` (a `+` sent as `%2B`).
 * https://segment.com/docs/unify/profile-api/
 * - Auth: the access token as the Basic-auth user name, empty password; 401 authentication_error.
 * - Traits: `limit` (default 10, at most 200; more is a 400 invalid_request_error), `include=a,b`,
 *   `verbose=true` (each trait `{value, source_id, updated_at}`), `class` (the emulator computes no
 *   audiences or computed traits, so `class` answers none). Paged in key order with an opaque
 *   `next`; `cursor {url, has_more, next, limit}`.
 * - External ids: `{data: [{id, type, source_id, collection, created_at, encoding, first_message_id}], cursor}`.
 * - Metadata: `{metadata: {created_at, updated_at, expires_at, first_message_id, first_source_id,
 *   last_message_id, last_source_id}}`; `updated_at` is the profile's last identify.
 * - 404 `{error: {code: 'not_found', message: 'Profile was not found.'}}` for an unknown profile.
 * - 100 requests/s per space (rolling window): 429 rate_limit_error with `Retry-After` (seconds).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sendProfileError } from './errors.js';
import { accepts, basicUser, type RollingWindow } from './limits.js';
import type { SegmentEmulatorOptions } from './options.js';
import type { SegmentState, StoredProfile } from './state.js';

const PREFIX = '/v1/spaces/:spaceId/collections/users/profiles/:identifier';
const MAX_TRAITS_LIMIT = 200;
const MAX_LIST_LIMIT = 100;

export interface ProfileDeps {
  state: SegmentState;
  options: Pick<SegmentEmulatorOptions, 'spaceId' | 'profileToken'>;
  rate: RollingWindow;
}

/** Refuses a Profile API call without the access token (the kit's `authenticate` hook). */
export function authenticateProfiles(req: FastifyRequest, reply: FastifyReply, token: string | undefined): FastifyReply | undefined {
  return accepts(basicUser(req), token)
    ? undefined
    : sendProfileError(reply, 401, 'authentication_error', 'No valid Access Token provided.');
}

/** The per-space rate limit (the kit's `admit` hook). */
export function admitProfiles(req: FastifyRequest, reply: FastifyReply, rate: RollingWindow): FastifyReply | undefined {
  const space = req.url.split('/')[3] ?? '';
  const taken = rate.take(space);
  if (taken.ok) return undefined;
  void reply.header('Retry-After', String(Math.max(1, Math.ceil(taken.retryAfterMs / 1000))));
  return sendProfileError(reply, 429, 'rate_limit_error', 'Too many requests hit the API too quickly.');
}

const Params = z.object({ spaceId: z.string(), identifier: z.string() });
const Query = z.object({
  limit: z.string().optional(),
  next: z.string().optional(),
  include: z.string().optional(),
  verbose: z.string().optional(),
  class: z.string().optional(),
});
type Query = z.infer<typeof Query>;

/** An opaque cursor: the position after which the next page starts. */
const encodeCursor = (position: string): string => Buffer.from(position, 'utf8').toString('base64url');
const decodeCursor = (next: string | undefined): string | undefined => (next ? Buffer.from(next, 'base64url').toString('utf8') : undefined);

/** `limit` as asked, or the 400 the Profile API answers. */
function limitOf(query: Query, fallback: number, max: number, reply: FastifyReply): number | FastifyReply {
  if (query.limit === undefined) return fallback;
  const n = Number(query.limit);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    return sendProfileError(reply, 400, 'invalid_request_error', `limit must be an integer between 1 and ${max}`);
  }
  return n;
}

/** One page of `items` after the cursor, with the Profile API's `cursor` object. */
function page<T>(req: FastifyRequest, items: readonly T[], keyOf: (item: T) => string, limit: number, next: string | undefined) {
  const after = decodeCursor(next);
  const start = after === undefined ? 0 : items.findIndex((i) => keyOf(i) > after);
  const rest = start < 0 ? [] : items.slice(start);
  const taken = rest.slice(0, limit);
  const last = taken[taken.length - 1];
  const hasMore = rest.length > taken.length && last !== undefined;
  return {
    items: taken,
    cursor: { url: req.url, has_more: hasMore, next: hasMore ? encodeCursor(keyOf(last)) : '', limit },
  };
}

export function registerProfileRoutes(app: FastifyInstance, deps: ProfileDeps): void {
  const { state, options } = deps;

  /** The profile a request names, or the 404 already sent. */
  const find = (req: FastifyRequest, reply: FastifyReply): StoredProfile | FastifyReply => {
    const { spaceId, identifier } = Params.parse(req.params);
    if (spaceId !== options.spaceId) return sendProfileError(reply, 404, 'not_found', 'Space was not found.');
    return state.profile(identifier) ?? sendProfileError(reply, 404, 'not_found', 'Profile was not found.');
  };
  const isProfile = (p: StoredProfile | FastifyReply): p is StoredProfile => 'segmentId' in p;

  app.get(`${PREFIX}/traits`, async (req, reply) => {
    const query = Query.parse(req.query);
    const limit = limitOf(query, 10, MAX_TRAITS_LIMIT, reply);
    if (typeof limit !== 'number') return limit;
    const profile = find(req, reply);
    if (!isProfile(profile)) return profile;
    const include = query.include === undefined ? undefined : new Set(query.include.split(',').map((k) => k.trim()));
    const classes = query.class !== undefined;
    const keys = [...profile.traits.keys()].filter((k) => !classes && (include === undefined || include.has(k))).sort();
    const { items, cursor } = page(req, keys, (k) => k, limit, query.next);
    const verbose = query.verbose === 'true';
    const traits = Object.fromEntries(
      items.map((k) => {
        const t = profile.traits.get(k);
        return [k, verbose ? { value: t?.value, source_id: t?.sourceId, updated_at: t?.updatedAt } : t?.value];
      }),
    );
    return { traits, cursor };
  });

  app.get(`${PREFIX}/external_ids`, async (req, reply) => {
    const query = Query.parse(req.query);
    const limit = limitOf(query, 10, MAX_LIST_LIMIT, reply);
    if (typeof limit !== 'number') return limit;
    const profile = find(req, reply);
    if (!isProfile(profile)) return profile;
    const include = query.include === undefined ? undefined : new Set(query.include.split(',').map((k) => k.trim()));
    const ids = profile.externalIds.filter((x) => include === undefined || include.has(x.type));
    const position = (i: number): string => String(i).padStart(8, '0');
    const numbered = ids.map((x, i) => ({ x, key: position(i) }));
    const { items, cursor } = page(req, numbered, (n) => n.key, limit, query.next);
    return { data: items.map((n) => n.x), cursor };
  });

  app.get(`${PREFIX}/metadata`, async (req, reply) => {
    const profile = find(req, reply);
    if (!isProfile(profile)) return profile;
    return {
      metadata: {
        created_at: profile.createdAt,
        updated_at: profile.updatedAt,
        expires_at: null,
        first_message_id: profile.firstMessageId,
        first_source_id: profile.firstSourceId,
        last_message_id: profile.lastMessageId,
        last_source_id: profile.lastSourceId,
      },
    };
  });
}
