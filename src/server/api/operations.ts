/**
 * The admin API's operations (`/api/v1`). Each one names its scope and its zod schemas; see
 * `operation.ts`. Changes to profiles are ingested like any other source's (source `admin`).
 */
import { v7 as uuidv7 } from 'uuid';
import { asLookupKeys } from '../../profile/identities.js';
import type { Profile, ProfilePatch } from '../../profile/schema.js';
import { hasScope } from '../api-keys.js';
import type { ServerDeps } from '../deps.js';
import { ApiProblem } from '../problem.js';
import type { PreferenceLinks } from '../preferences/links.js';
import { requestedLocale } from '../preferences/i18n.js';
import { profileView } from '../profile-view.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';
import {
  ConnectorIdParams,
  ConnectorStatusList,
  ConsentHistory,
  DeadLetterList,
  DeadLetterParams,
  DeadLetterQuery,
  FindProfileQuery,
  PatchResult,
  PreferenceLink,
  PreferenceLinkRequest,
  ProfileIdParams,
  ProfilePatchRequest,
  ProfileView,
  ReplayResult,
  RevokedLinks,
  PushAgainResult,
  SyncJob,
  SyncJobParams,
  SyncRequest,
  SyncState,
  UnparkResult,
} from './schemas.js';

export interface OperationContext {
  deps: ServerDeps;
  links: PreferenceLinks;
  now(): number;
}

const notFound = (what: string): ApiProblem => new ApiProblem(404, 'not_found', 'Not found', `${what} not found`);

/** The preference-center URL of a link token. */
export function preferenceUrl(publicUrl: string, token: string, lang?: string): string {
  const url = new URL(`preferences/${token}`, publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`);
  if (lang) url.searchParams.set('lang', lang);
  return url.toString();
}

export function apiOperations(ctx: OperationContext): Operation<unknown, unknown, unknown, unknown>[] {
  const { deps } = ctx;
  const { store, catalog, policy } = deps;
  const view = (profile: Profile): ProfileView => profileView(profile, catalog, policy, new Date(ctx.now()));
  const load = async (profileId: string): Promise<Profile | ApiProblem> => (await store.getProfile(profileId)) ?? notFound('profile');

  const findProfile = defineOperation({
    id: 'findProfile',
    method: 'GET',
    path: '/profiles',
    summary: 'Find a profile by an identity',
    description: 'Looks a profile up by e-mail, phone, or a connected system’s record id. Identities are normalized first.',
    tag: 'Profiles',
    scope: 'profiles:read',
    query: FindProfileQuery,
    response: ProfileView,
    errors: [404],
    async handle({ query }) {
      let profile: Profile | null = null;
      if (query.email !== undefined) profile = await store.findProfile({ kind: 'email', value: query.email });
      else if (query.phone !== undefined) profile = await store.findProfile({ kind: 'phone', value: query.phone });
      else if (query.system !== undefined && query.externalId !== undefined) {
        const id = await store.findProfileIdByExternalId(query.system, query.externalId);
        profile = id
          ? await store.getProfile(id)
          : await store.findProfile({ kind: 'external', value: query.externalId, system: query.system });
      }
      return profile ? view(profile) : notFound('profile');
    },
  });

  const getProfile = defineOperation({
    id: 'getProfile',
    method: 'GET',
    path: '/profiles/{profileId}',
    summary: 'Get a profile',
    description: 'Every field with its value, the source that set it and when; consents with their evidence; and what systems are told.',
    tag: 'Profiles',
    scope: 'profiles:read',
    params: ProfileIdParams,
    response: ProfileView,
    errors: [404],
    async handle({ params }) {
      const profile = await load(params.profileId);
      return profile instanceof ApiProblem ? profile : view(profile);
    },
  });

  const patchProfile = defineOperation({
    id: 'patchProfile',
    method: 'PATCH',
    path: '/profiles/{profileId}',
    summary: 'Change a profile',
    description:
      'Ingested like any other source’s change (source `admin`): merged by the same rules, recorded in the consent ledger and audit log, and delivered to every connected system. The answer carries the changes and the profile only for keys that also have `profiles:read`.',
    tag: 'Profiles',
    scope: 'profiles:write',
    params: ProfileIdParams,
    body: ProfilePatchRequest,
    response: PatchResult,
    errors: [404, 409, 422],
    async handle({ params, body, principal }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      const unknownPurpose = Object.keys(body.consents).find((p) => !(p in catalog.purposes));
      if (unknownPurpose !== undefined) {
        return new ApiProblem(422, 'unknown_purpose', 'Unknown purpose', `purpose "${unknownPurpose}" is not in the catalog`);
      }
      const unknownTopic = Object.keys(body.subscriptions).find((t) => !(t in catalog.topics));
      if (unknownTopic !== undefined) {
        return new ApiProblem(422, 'unknown_topic', 'Unknown topic', `topic "${unknownTopic}" is not in the catalog`);
      }
      const now = new Date(ctx.now()).toISOString();
      const evidence = { method: 'admin_api', capturedBy: `api-key:${principal.keyId}` };
      const consents: ProfilePatch['consents'] = {};
      for (const [purpose, channels] of Object.entries(body.consents)) {
        consents[purpose] = {};
        for (const [channel, input] of Object.entries(channels)) {
          consents[purpose][channel] = { ...input, evidence: input.evidence ?? evidence };
        }
      }
      const patch: ProfilePatch = {
        id: `admin:${uuidv7()}`,
        source: 'admin',
        at: body.at ?? now,
        receivedAt: now,
        // The profile's own identities resolve the patch to it (as lookup keys: naming them is
        // no news); the body's are set now, so one the profile has becomes its primary again.
        identities: [...asLookupKeys(profile.identities), ...body.identities],
        attributes: body.attributes,
        consents,
        subscriptions: body.subscriptions,
        rights: { objections: {} },
        ...(body.reason === undefined ? {} : { reason: body.reason }),
      };
      const result = await deps.ingestPatch(patch, { actor: `admin:${principal.keyId}` });
      if (result.status === 'suppressed')
        return new ApiProblem(409, 'suppressed', 'Identity suppressed', 'an identity of this change belongs to an erased person');
      if (result.status === 'no_identity')
        return new ApiProblem(422, 'no_identity', 'No usable identity', 'the profile has no identity the change could be resolved by');
      const written = {
        status: result.status,
        profileId: result.profileId,
        version: result.version,
        deliveredTo: result.status === 'applied' ? result.outbox : [],
      };
      // Writing is not reading: the profile's values go only to a key that may read them.
      if (!hasScope(principal.scopes, 'profiles:read')) return written;
      const after = await load(result.profileId);
      if (after instanceof ApiProblem) return after;
      return { ...written, changes: result.status === 'applied' ? result.changes : [], ignored: result.ignored, profile: view(after) };
    },
  });

  const consentHistory = defineOperation({
    id: 'getConsentHistory',
    method: 'GET',
    path: '/profiles/{profileId}/consents/history',
    summary: 'Consent history',
    description: 'Every consent change from the append-only ledger, oldest first, with its full evidence (GDPR Art. 7(1)).',
    tag: 'Profiles',
    scope: 'profiles:read',
    params: ProfileIdParams,
    response: ConsentHistory,
    errors: [404],
    async handle({ params }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      return { profileId: profile.id, entries: await store.consentHistory(profile.id) };
    },
  });

  const syncState = defineOperation({
    id: 'getSyncState',
    method: 'GET',
    path: '/profiles/{profileId}/sync',
    summary: 'Per-system sync state',
    description:
      'For each connected system: its record id, when the hub last pushed, what it is known to hold (the shadow), and any dead letter.',
    tag: 'Profiles',
    scope: 'profiles:read',
    params: ProfileIdParams,
    response: SyncState,
    errors: [404],
    async handle({ params }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      const shadows = await store.shadowsByProfile(profile.id);
      const dead = await deps.engine.deadLetters.list();
      const types = new Map(deps.connectors.map((c) => [c.id, c.type]));
      return {
        profileId: profile.id,
        systems: shadows.map((s) => ({
          connector: s.connector,
          type: types.get(s.connector) ?? null,
          externalId: s.externalId,
          lastPushedAt: s.lastPushedAt,
          updatedAt: s.updatedAt,
          shadow: s.values,
          deadLetter: dead.find((d) => d.connector === s.connector && d.profileId === profile.id) ?? null,
        })),
      };
    },
  });

  const connectorStatus = defineOperation({
    id: 'listConnectors',
    method: 'GET',
    path: '/connectors',
    summary: 'Connector status',
    description:
      'Per connector: capabilities, limits, pull schedule, saved cursor and last pull (time, volume, error), queue depths, profiles waiting or dead-lettered, and the API budget left.',
    tag: 'Operations',
    scope: 'admin',
    response: ConnectorStatusList,
    async handle() {
      const now = ctx.now();
      const connectors = [];
      for (const c of deps.connectors) {
        const status = await deps.engine.connectorStatus(c.id, now);
        connectors.push({
          id: c.id,
          type: c.type,
          capabilities: c.capabilities,
          limits: c.limits,
          schedule: c.schedule ?? null,
          cursor: await store.getCursor(c.id),
          lastPull: status.lastPull,
          queues: status.queues,
          profiles: status.profiles,
          budget: status.budget,
        });
      }
      return { connectors };
    },
  });

  const unpark = defineOperation({
    id: 'unparkConnector',
    method: 'POST',
    path: '/connectors/{id}/unpark',
    summary: 'Lift a rate-limit park',
    description:
      'After a 429 or a spent daily allowance, a connector’s push, pull and erase queues and its calls park for as long as the system asked (or the connector’s configured park, e.g. Salesforce `requestLimitPark`). When the allowance is back early, this lifts the park in every hub process and pushes what waits at once. A system still out of allowance parks it again.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    response: UnparkResult,
    errors: [404],
    async handle({ params, principal }) {
      if (!deps.connectors.some((c) => c.id === params.id)) return notFound('connector');
      const lifted = await deps.engine.unpark(params.id);
      const erase = (await deps.privacy?.unpark(params.id)) ?? 0;
      const parkedForMs = Math.max(lifted.parkedForMs, erase);
      await store.appendAudit({
        actor: `admin:${principal.keyId}`,
        action: 'connector.unparked',
        profileId: null,
        detail: { connector: params.id, parkedForMs },
      });
      return { connector: params.id, parkedForMs };
    },
  });

  const syncConnector = defineOperation({
    id: 'syncConnector',
    method: 'POST',
    path: '/connectors/{id}/sync',
    summary: 'Pull a connector now (sync now, full resync)',
    description:
      'Queues a pull of the connector on its pull queue, run by the hub’s pull workers within the queue’s limiter and the call budget like a scheduled pull (it waits for a pull already running). With `full`, it reads every record from the start instead of from the saved cursor; values equal to what the hub wrote are echoes and erased people stay erased, as with any pull. Answers at once with the job; its progress at `GET /connectors/{id}/sync/{jobId}`.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    body: SyncRequest.default({ full: false }),
    status: 202,
    response: SyncJob,
    errors: [404, 409],
    async handle({ params, body, principal }) {
      const connector = deps.connectors.find((c) => c.id === params.id);
      if (!connector) return notFound('connector');
      if (!connector.capabilities.pull)
        return new ApiProblem(409, 'does_not_pull', 'Connector does not pull', `connector ${params.id} only receives changes from the hub`);
      const jobId = await deps.engine.pullNow(params.id, { full: body.full });
      await store.appendAudit({
        actor: `admin:${principal.keyId}`,
        action: 'connector.sync_requested',
        profileId: null,
        detail: { connector: params.id, full: body.full, jobId },
      });
      return {
        connector: params.id,
        jobId,
        full: body.full,
        state: 'queued' as const,
        progress: { pages: 0, records: 0 },
        result: null,
        error: null,
      };
    },
  });

  const syncJob = defineOperation({
    id: 'getSyncJob',
    method: 'GET',
    path: '/connectors/{id}/sync/{jobId}',
    summary: 'Progress of a pull',
    description:
      'Where a pull queued by `POST /connectors/{id}/sync` stands: its state, the pages and records read so far, its outcome. Kept for an hour after it ends.',
    tag: 'Operations',
    scope: 'admin',
    params: SyncJobParams,
    response: SyncJob,
    errors: [404],
    async handle({ params }) {
      if (!deps.connectors.some((c) => c.id === params.id)) return notFound('connector');
      const view = await deps.engine.pullProgress(params.id, params.jobId);
      return view ? { connector: params.id, ...view } : notFound('pull job');
    },
  });

  const pushProfile = defineOperation({
    id: 'pushProfile',
    method: 'POST',
    path: '/profiles/{profileId}/push',
    summary: 'Push a profile again to every system',
    description:
      'Queues the profile for every connector that pushes; the normal push workers deliver it (consent gate, restriction, erasure and rate limits as always), sending every mapped field rather than only what differs from what the hub believes the system holds. Its state per system at `GET /profiles/{profileId}/sync`.',
    tag: 'Operations',
    scope: 'admin',
    params: ProfileIdParams,
    status: 202,
    response: PushAgainResult,
    errors: [404],
    async handle({ params, principal }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      const queued = await deps.engine.pushAgain(profile.id);
      await store.appendAudit({
        actor: `admin:${principal.keyId}`,
        action: 'profile.push_requested',
        profileId: profile.id,
        detail: { connectors: queued },
      });
      const held = await deps.engine.pushHeld(profile.id);
      return { profileId: profile.id, queued, ...(held.length > 0 ? { held } : {}) };
    },
  });

  const listDeadLetters = defineOperation({
    id: 'listDeadLetters',
    method: 'GET',
    path: '/dead-letters',
    summary: 'List dead letters',
    description: 'Profiles a system refused for good, or whose retries ran out, with the reason; oldest first.',
    tag: 'Operations',
    scope: 'admin',
    query: DeadLetterQuery,
    response: DeadLetterList,
    errors: [404],
    async handle({ query }) {
      if (query.connector !== undefined && !deps.connectors.some((c) => c.id === query.connector)) return notFound('connector');
      return { deadLetters: await deps.engine.deadLetters.list(query.connector) };
    },
  });

  const replayOne = defineOperation({
    id: 'replayDeadLetter',
    method: 'POST',
    path: '/dead-letters/{connector}/{profileId}/replay',
    summary: 'Replay one dead letter',
    description: 'Puts the profile back in the connector’s push queue; the next push sends whatever still differs.',
    tag: 'Operations',
    scope: 'admin',
    params: DeadLetterParams,
    status: 202,
    response: ReplayResult,
    errors: [404],
    async handle({ params }) {
      if (!deps.connectors.some((c) => c.id === params.connector)) return notFound('connector');
      const replayed = await deps.engine.deadLetters.replay(params.connector, params.profileId);
      return replayed ? { replayed: 1 } : notFound('dead letter');
    },
  });

  const replayAll = defineOperation({
    id: 'replayDeadLetters',
    method: 'POST',
    path: '/dead-letters/replay',
    summary: 'Replay dead letters',
    description: 'Replays every dead letter, or those of one connector.',
    tag: 'Operations',
    scope: 'admin',
    query: DeadLetterQuery,
    status: 202,
    response: ReplayResult,
    errors: [404],
    async handle({ query }) {
      if (query.connector !== undefined && !deps.connectors.some((c) => c.id === query.connector)) return notFound('connector');
      return { replayed: await deps.engine.deadLetters.replayAll(query.connector) };
    },
  });

  const issueLink = defineOperation({
    id: 'issuePreferenceLink',
    method: 'POST',
    path: '/profiles/{profileId}/preference-link',
    summary: 'Issue a preference-center link',
    description: 'A signed, expiring link that opens this person’s preference center, and nobody else’s. Send it only to the person.',
    tag: 'Preference center',
    scope: 'profiles:write',
    params: ProfileIdParams,
    body: PreferenceLinkRequest.default({}),
    status: 201,
    response: PreferenceLink,
    errors: [404, 422],
    async handle({ params, body, principal }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      const lang = body.lang === undefined ? undefined : requestedLocale(body.lang, catalog.locales);
      if (body.lang !== undefined && lang === undefined) {
        return new ApiProblem(
          422,
          'unknown_locale',
          'Unknown locale',
          `"${body.lang}" is not in catalog.locales (${catalog.locales.join(', ')})`,
        );
      }
      const ttl = body.ttlSeconds !== undefined ? body.ttlSeconds * 1000 : deps.hub.preferenceCenter.linkTtl;
      const { token, expiresAt } = ctx.links.issue(profile.id, ttl);
      await store.appendAudit({
        actor: `admin:${principal.keyId}`,
        action: 'preference_link.issued',
        profileId: profile.id,
        detail: { expiresAt: new Date(expiresAt).toISOString() },
      });
      return { url: preferenceUrl(deps.hub.publicUrl, token, lang), expiresAt: new Date(expiresAt).toISOString() };
    },
  });

  const revokeLinks = defineOperation({
    id: 'revokePreferenceLinks',
    method: 'DELETE',
    path: '/profiles/{profileId}/preference-links',
    summary: 'Revoke preference-center links',
    description: 'Every link issued for this profile so far stops opening (e.g. when one was forwarded by mistake).',
    tag: 'Preference center',
    scope: 'profiles:write',
    params: ProfileIdParams,
    response: RevokedLinks,
    errors: [404],
    async handle({ params, principal }) {
      const profile = await load(params.profileId);
      if (profile instanceof ApiProblem) return profile;
      const ids = new Set([params.profileId, profile.id]);
      let before = 0;
      for (const id of ids) before = await ctx.links.revokeAll(id);
      await store.appendAudit({ actor: `admin:${principal.keyId}`, action: 'preference_link.revoked', profileId: profile.id, detail: {} });
      return { profileId: profile.id, revokedBefore: new Date(before).toISOString() };
    },
  });

  return [
    findProfile,
    getProfile,
    patchProfile,
    consentHistory,
    syncState,
    connectorStatus,
    unpark,
    syncConnector,
    syncJob,
    pushProfile,
    listDeadLetters,
    replayOne,
    replayAll,
    issueLink,
    revokeLinks,
  ] as Operation<unknown, unknown, unknown, unknown>[];
}
