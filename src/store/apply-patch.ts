/**
 * One patch applied statement by statement in the caller's transaction (`repos/profiles.ts`
 * opens it and retries the whole transaction on a write conflict). `apply-batch.ts` runs a
 * batch with a bounded number of statements and hands a patch that merges profiles to
 * `applyPrepared`; the row builders here serve both.
 */
import { sql } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { newId } from './ids.js';
import { diff } from '../profile/diff.js';
import { explainMerge } from '../profile/explain.js';
import type { Verdict } from '../profile/explain.js';
import { emptyProfile, merge, mergeProfiles } from '../profile/merge.js';
import { ConsentState } from '../profile/schema.js';
import type { Change, Identity, Ignored, Json, MergePolicy, Profile, ProfilePatch } from '../profile/schema.js';
import { decodeProfile, decodeRecord, encodeJson } from './codec.js';
import type { Database } from './db-schema.js';
import { WriteConflictError } from './errors.js';
import { identityKey, keyedIdentityHash, normalizeIdentities } from './identity.js';
import type { NormalizeOptions } from './identity.js';
import type { ApplyOptions, ApplyResult, Observed } from './contracts/profiles.js';
import type { FaultInjection } from './types.js';
import {
  FIND_OWNERS,
  FIND_SHADOW_OWNER,
  fixedQuery,
  INSERT_AUDIT,
  INSERT_PROFILE,
  INSERT_SHADOW,
  SELECT_SHADOW,
  SELECT_SHADOW_FOR_UPDATE,
  UPDATE_PROFILE,
  UPDATE_SHADOW,
  UPSERT_OUTBOX,
} from './fixed-sql.js';

export interface ApplyContext {
  dialect: 'sqlite' | 'postgres';
  policy: MergePolicy;
  outboxTargets: readonly string[];
  hashKey: string;
  defaultPhoneCountry?: NormalizeOptions['defaultPhoneCountry'];
  faultInjection?: FaultInjection;
  logger: Logger;
}

export interface LoadedProfile {
  profile: Profile;
  version: number;
  createdAt: string;
}

type Trx = Transaction<Database>;
type Dialect = ApplyContext['dialect'];

/** Chunk size for `IN (...)` lists, well under both dialects' parameter limits. */
const IN_CHUNK = 500;

/** A patch's identities, normalized and hashed once. */
export interface PreparedIdentities {
  identities: Identity[];
  hashes: string[];
  rejected: number;
}

export function prepareIdentities(ctx: ApplyContext, patch: ProfilePatch): PreparedIdentities {
  const normalized = normalizeIdentities(patch.identities, { defaultPhoneCountry: ctx.defaultPhoneCountry, defaultSystem: patch.source });
  if (normalized.rejected.length > 0) {
    ctx.logger.warn({ patchId: patch.id, source: patch.source, rejected: normalized.rejected }, 'identities rejected');
  }
  const hashes = normalized.identities.map((identity) => keyedIdentityHash(identity, ctx.hashKey));
  return { identities: normalized.identities, hashes, rejected: normalized.rejected.length };
}

/** Which of `hashes` are on the suppression list. */
export async function suppressedAmong(db: Kysely<Database> | Trx, hashes: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const unique = [...new Set(hashes)];
  for (let i = 0; i < unique.length; i += IN_CHUNK) {
    const rows = await db
      .selectFrom('suppression')
      .select('hash')
      .where('hash', 'in', unique.slice(i, i + IN_CHUNK))
      .execute();
    for (const row of rows) out.add(row.hash);
  }
  return out;
}

/** Applies one prepared patch (any case, merges included) statement by statement. */
export async function applyPrepared(
  trx: Trx,
  ctx: ApplyContext,
  patch: ProfilePatch,
  options: ApplyOptions,
  prepared: PreparedIdentities,
  suppressed: ReadonlySet<string>,
): Promise<ApplyResult> {
  const now = new Date().toISOString();
  const { identities, hashes } = prepared;
  if (identities.length === 0) return { status: 'no_identity' };
  if (hashes.some((hash) => suppressed.has(hash))) return { status: 'suppressed', reason: 'suppressed_identity' };

  // Resolve: which profiles own the patch's identities?
  const { owned, owners } = await findOwners(trx, ctx.dialect, identities);
  const byShadow = await findRecordOwner(trx, ctx.dialect, options.observed, owned);
  if (byShadow && !owners.some((o) => o.profile.id === byShadow.profile.id)) owners.push(byShadow);
  owners.sort((a, b) => compare(a.createdAt, b.createdAt) || compare(a.profile.id, b.profile.id));

  const survivor = owners[0];
  const absorbed = owners.slice(1);
  const created = survivor === undefined;
  let base: Profile = survivor?.profile ?? emptyProfile(newId());
  for (const other of absorbed) base = mergeProfiles(base, other.profile, ctx.policy).profile;

  const merged: ProfilePatch = { ...patch, identities };
  const result = merge(base, merged, ctx.policy);
  const verdicts = explainMerge(base, merged, ctx.policy, result);
  const profileId = base.id;
  const actor = options.actor ?? patch.source;

  if (!created && absorbed.length === 0 && result.changes.length === 0) {
    if (options.observed || result.ignored.length > 0 || verdicts.length > 0) {
      // Serialise with other writers of this profile (PostgreSQL) before the side writes.
      // Merge only grows a profile, so "unchanged" stays true whatever they commit.
      if (ctx.dialect === 'postgres') {
        const locked = await trx.selectFrom('profiles').select('id').where('id', '=', profileId).forUpdate().executeTakeFirst();
        if (!locked) throw new WriteConflictError(`profile ${profileId} was merged away`);
      }
      await recordIgnoredConsents(trx, profileId, patch, result.ignored, now);
      await recordHistory(trx, profileId, patch.id, actor, verdicts, now);
      if (options.observed) {
        await mergeShadow(trx, ctx.dialect, profileId, options.observed.connector, observedUpdate(options.observed), now);
      }
    }
    await ctx.faultInjection?.beforeCommit?.({ patchId: patch.id, profileId });
    return { status: 'unchanged', profileId, version: survivor.version, ignored: result.ignored, created: false };
  }

  // Compare-and-swap first: it takes the row lock that orders concurrent writers of this profile.
  const version = created ? 1 : survivor.version + 1;
  const stored: Profile = { ...result.profile, id: profileId, version };
  if (created) {
    await trx.executeQuery(fixedQuery(ctx.dialect, INSERT_PROFILE, [profileId, version, encodeJson(stored), now, now]));
  } else {
    const updated = await trx.executeQuery(
      fixedQuery(ctx.dialect, UPDATE_PROFILE, [version, encodeJson(stored), now, profileId, survivor.version]),
    );
    if (updated.numAffectedRows !== 1n) throw new WriteConflictError(`profile ${profileId} changed concurrently`);
  }

  // The absorbed profiles' rows are deleted and the survivor's upserted: all locked first, in order.
  if (absorbed.length > 0) await lockOutboxOf(trx, ctx.dialect, [profileId, ...absorbed.map((other) => other.profile.id)]);
  for (const other of absorbed) {
    await absorbProfile(trx, ctx.dialect, other, profileId, version, now);
    await insertAudit(trx, ctx.dialect, {
      at: now,
      actor,
      action: 'profile.merged',
      profileId,
      detail: { mergedFrom: other.profile.id, patchId: patch.id, source: patch.source },
    });
  }

  const newIdentities = identities.filter((identity) => !owned.has(identityKey(identity)));
  if (newIdentities.length > 0) {
    await trx
      .insertInto('identities')
      .values(
        newIdentities.map((identity) => ({
          kind: identity.kind,
          system: identity.kind === 'external' ? (identity.system ?? '') : '',
          value: identity.value,
          profile_id: profileId,
          created_at: now,
        })),
      )
      .execute();
  }

  await recordConsentChanges(trx, profileId, patch, result.changes, now);
  await recordIgnoredConsents(trx, profileId, patch, result.ignored, now);
  await recordHistory(trx, profileId, patch.id, actor, verdicts, now);
  const outbox = await writeOutbox(trx, ctx.dialect, profileId, ctx.outboxTargets, version, now);
  if (options.observed) {
    await mergeShadow(trx, ctx.dialect, profileId, options.observed.connector, observedUpdate(options.observed), now);
  }

  // After a profile merge, report the net change to the surviving profile as it was stored.
  const changes = survivor && absorbed.length > 0 ? diff(survivor.profile, result.profile) : result.changes;
  await insertAudit(trx, ctx.dialect, {
    at: now,
    actor,
    action: created ? 'profile.created' : 'profile.updated',
    profileId,
    detail: auditDetail(patch, version, changes, result.ignored, hashes, prepared.rejected),
  });

  await ctx.faultInjection?.beforeCommit?.({ patchId: patch.id, profileId });
  return {
    status: 'applied',
    profileId,
    version,
    changes,
    ignored: result.ignored,
    outbox,
    mergedProfileIds: absorbed.map((other) => other.profile.id),
    created,
  };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The identities already in the graph (by identityKey) and the profiles that own them,
 * read in one statement so the two agree.
 */
async function findOwners(
  trx: Trx,
  dialect: Dialect,
  identities: readonly Identity[],
): Promise<{ owned: Set<string>; owners: LoadedProfile[] }> {
  const parameters = identities.flatMap((identity) => [
    identity.kind,
    identity.kind === 'external' ? (identity.system ?? '') : '',
    identity.value,
  ]);
  const { rows } = await trx.executeQuery<
    Pick<Database['identities'], 'kind' | 'system' | 'value'> & Pick<Database['profiles'], 'id' | 'version' | 'data' | 'created_at'>
  >(fixedQuery(dialect, FIND_OWNERS(identities.length), parameters));
  const owned = new Set<string>();
  const owners = new Map<string, LoadedProfile>();
  for (const row of rows) {
    const identity: Identity =
      row.kind === 'external'
        ? { kind: 'external', system: row.system, value: row.value }
        : { kind: row.kind === 'phone' ? 'phone' : 'email', value: row.value };
    owned.add(identityKey(identity));
    if (!owners.has(row.id)) {
      owners.set(row.id, { profile: decodeProfile(row.data, row.version), version: row.version, createdAt: row.created_at });
    }
  }
  return { owned, owners: [...owners.values()] };
}

/**
 * The profile that the source's record belongs to by its shadow, when the record's id is not
 * yet in the identity graph (the hub created the record by a push): without it, the first
 * change made in such a record that changes its identities (a new e-mail address) would
 * start a second profile instead of updating the person's.
 */
async function findRecordOwner(
  trx: Trx,
  dialect: Dialect,
  observed: Observed | undefined,
  owned: ReadonlySet<string>,
): Promise<LoadedProfile | undefined> {
  const externalId = observed?.externalId?.trim();
  if (!observed || !externalId) return undefined;
  if (owned.has(identityKey({ kind: 'external', system: observed.connector, value: externalId }))) return undefined;
  const { rows } = await trx.executeQuery<Pick<Database['profiles'], 'id' | 'version' | 'data' | 'created_at'>>(
    fixedQuery(dialect, FIND_SHADOW_OWNER, [observed.connector, observed.externalId]),
  );
  const row = rows[0];
  return row && { profile: decodeProfile(row.data, row.version), version: row.version, createdAt: row.created_at };
}

/** Moves everything of `other` onto `intoId` and deletes `other` (compare-and-swap on its version). */
async function absorbProfile(
  trx: Trx,
  dialect: Dialect,
  other: LoadedProfile,
  intoId: string,
  intoVersion: number,
  now: string,
): Promise<void> {
  const fromId = other.profile.id;
  await trx.updateTable('identities').set({ profile_id: intoId }).where('profile_id', '=', fromId).execute();
  await trx.updateTable('consent_ledger').set({ profile_id: intoId }).where('profile_id', '=', fromId).execute();
  await trx.updateTable('profile_history').set({ profile_id: intoId }).where('profile_id', '=', fromId).execute();
  await trx.updateTable('dsr').set({ profile_id: intoId }).where('profile_id', '=', fromId).execute();
  await trx.updateTable('push_log').set({ profile_id: intoId }).where('profile_id', '=', fromId).execute();

  // Shadows: the surviving profile's shadow for a connector wins; the others move over.
  const intoConnectors = (await trx.selectFrom('shadows').select('connector').where('profile_id', '=', intoId).execute()).map(
    (row) => row.connector,
  );
  let moveShadows = trx.updateTable('shadows').set({ profile_id: intoId }).where('profile_id', '=', fromId);
  if (intoConnectors.length > 0) moveShadows = moveShadows.where('connector', 'not in', intoConnectors);
  await moveShadows.execute();
  await trx.deleteFrom('shadows').where('profile_id', '=', fromId).execute();

  // Outbox: the absorbed profile's pending rows become rows of the survivor (the
  // survivor's own rows are rewritten for this change by writeOutbox anyway).
  const pending = await trx.selectFrom('outbox').select('connector').where('profile_id', '=', fromId).execute();
  await trx.deleteFrom('outbox').where('profile_id', '=', fromId).execute();
  await upsertOutbox(
    trx,
    dialect,
    intoId,
    pending.map((row) => row.connector),
    intoVersion,
    now,
  );

  const deleted = await trx.deleteFrom('profiles').where('id', '=', fromId).where('version', '=', other.version).executeTakeFirst();
  if (deleted.numDeletedRows !== 1n) throw new WriteConflictError(`profile ${fromId} changed concurrently`);

  await trx.updateTable('profile_aliases').set({ into_id: intoId }).where('into_id', '=', fromId).execute();
  await trx.insertInto('profile_aliases').values({ merged_id: fromId, into_id: intoId, merged_at: now }).execute();
}

async function upsertOutbox(
  trx: Trx,
  dialect: Dialect,
  profileId: string,
  connectors: readonly string[],
  version: number,
  now: string,
): Promise<void> {
  const unique = [...new Set(connectors)];
  if (unique.length === 0) return;
  // On conflict the row gets a new id: an ack for the row as it was claimed before this change deletes nothing.
  const parameters = unique.flatMap((connector) => [newId(), profileId, connector, version, now, now]);
  await trx.executeQuery(fixedQuery(dialect, UPSERT_OUTBOX(unique.length), parameters));
}

/**
 * On PostgreSQL, locks the outbox rows of `profileIds` in (profile, connector) order, the order
 * every writer of outbox rows takes them in (`repos/outbox.ts`), before a write that would go
 * through them in the plan's order.
 */
export async function lockOutboxOf(trx: Trx, dialect: Dialect, profileIds: readonly string[]): Promise<void> {
  if (dialect !== 'postgres' || profileIds.length === 0) return;
  await sql`select id from outbox where profile_id in (select unnest(${[...profileIds]}::text[])) order by profile_id collate "C", connector collate "C" for update`.execute(
    trx,
  );
}

async function writeOutbox(
  trx: Trx,
  dialect: Dialect,
  profileId: string,
  targets: readonly string[],
  version: number,
  now: string,
): Promise<string[]> {
  const connectors = [...new Set(targets)];
  // In (profile, connector) order, as every writer of outbox rows locks them (`repos/outbox.ts`).
  await upsertOutbox(trx, dialect, profileId, [...connectors].sort(), version, now);
  return connectors;
}

/** Ledger rows for the consent changes a merge made (and outvoted most-restrictive reports). */
async function recordConsentChanges(
  trx: Trx,
  profileId: string,
  patch: ProfilePatch,
  changes: readonly Change[],
  now: string,
): Promise<void> {
  const rows = consentChangeRows(profileId, patch, changes, now);
  if (rows.length > 0) await trx.insertInto('consent_ledger').values(rows).execute();
}

/** The ledger rows of `recordConsentChanges`. */
export function consentChangeRows(
  profileId: string,
  patch: ProfilePatch,
  changes: readonly Change[],
  now: string,
): Database['consent_ledger'][] {
  const rows: Database['consent_ledger'][] = [];
  for (const change of changes) {
    if (change.kind !== 'consent') continue;
    const slot = splitConsentPath(patch, change.path);
    const state = ConsentState.safeParse(change.to);
    if (!slot || !state.success) continue;
    const previous = ConsentState.safeParse(change.from);
    const reported = change.reported;
    // A most-restrictive report that is not the state in force was recorded but outvoted.
    const outvoted =
      reported !== undefined &&
      (reported.value !== state.data.value || reported.at !== state.data.at || reported.source !== state.data.source);
    rows.push({
      id: newId(),
      profile_id: profileId,
      purpose: slot.purpose,
      channel: slot.channel,
      state: encodeJson(outvoted ? reported : state.data),
      previous: previous.success ? previous.data.value : null,
      patch_id: patch.id,
      recorded_at: now,
      accepted: outvoted ? 0 : 1,
    });
  }
  return rows;
}

/**
 * Ledger rows (accepted = false) for consent reports from sources that are not an
 * authority for the purpose. Written once per patch, even when the patch is replayed.
 */
async function recordIgnoredConsents(
  trx: Trx,
  profileId: string,
  patch: ProfilePatch,
  ignored: readonly Ignored[],
  now: string,
): Promise<void> {
  if (!ignored.some(isIgnoredConsent)) return;
  const existing = await trx
    .selectFrom('consent_ledger')
    .select(['purpose', 'channel'])
    .where('patch_id', '=', patch.id)
    .where('profile_id', '=', profileId)
    .where('accepted', '=', 0)
    .execute();
  const recorded = new Set(existing.map((row) => ledgerSlotKey(row.purpose, row.channel)));
  const rows = ignoredConsentRows(profileId, patch, ignored, now, recorded);
  if (rows.length > 0) await trx.insertInto('consent_ledger').values(rows).execute();
}

/** A consent report from a source that is not an authority for the purpose: recorded, not accepted. */
export function isIgnoredConsent(entry: Ignored): boolean {
  return entry.kind === 'consent' && entry.reason === 'not_authority';
}

/** The key of a ledger slot in the `recorded` sets. */
export function ledgerSlotKey(purpose: string, channel: string): string {
  return `${purpose}\u0000${channel}`;
}

/** The ledger rows of `recordIgnoredConsents`, leaving out the slots in `recorded` (the patch's rows so far). */
export function ignoredConsentRows(
  profileId: string,
  patch: ProfilePatch,
  ignored: readonly Ignored[],
  now: string,
  recorded: ReadonlySet<string>,
): Database['consent_ledger'][] {
  const rows: Database['consent_ledger'][] = [];
  for (const entry of ignored.filter(isIgnoredConsent)) {
    const slot = splitConsentPath(patch, entry.path);
    if (!slot || recorded.has(ledgerSlotKey(slot.purpose, slot.channel))) continue;
    if (entry.state === undefined) continue;
    rows.push({
      id: newId(),
      profile_id: profileId,
      purpose: slot.purpose,
      channel: slot.channel,
      state: encodeJson(entry.state),
      previous: null,
      patch_id: patch.id,
      recorded_at: now,
      accepted: 0,
    });
  }
  return rows;
}

/**
 * History rows: why each slot of the patch won or lost, with the values. A replayed patch
 * adds nothing: its wins are full ties (left out by `explainMerge`), and a part that loses now
 * is not recorded again when the patch already has a row for that slot.
 */
async function recordHistory(
  trx: Trx,
  profileId: string,
  patchId: string,
  actor: string,
  verdicts: readonly Verdict[],
  now: string,
): Promise<void> {
  if (verdicts.length === 0) return;
  let recorded = new Set<string>();
  if (verdicts.some((v) => v.outcome === 'lost')) {
    const existing = await trx
      .selectFrom('profile_history')
      .select(['kind', 'path'])
      .where('patch_id', '=', patchId)
      .where('profile_id', '=', profileId)
      .execute();
    recorded = new Set(existing.map((row) => historySlotKey(row.kind, row.path)));
  }
  const rows = historyRows(profileId, patchId, actor, verdicts, now, recorded);
  if (rows.length > 0) await trx.insertInto('profile_history').values(rows).execute();
}

/** The key of a history slot in the `recorded` sets. */
export function historySlotKey(kind: string, path: string): string {
  return `${kind}\u0000${path}`;
}

/** The rows of `recordHistory`, leaving out lost slots in `recorded` (the patch's rows so far). */
export function historyRows(
  profileId: string,
  patchId: string,
  actor: string,
  verdicts: readonly Verdict[],
  now: string,
  recorded: ReadonlySet<string>,
): Database['profile_history'][] {
  return verdicts
    .filter((v) => v.outcome === 'won' || !recorded.has(historySlotKey(v.kind, v.path)))
    .map((v) => ({
      id: newId(),
      profile_id: profileId,
      patch_id: patchId,
      actor,
      kind: v.kind,
      path: v.path,
      outcome: v.outcome,
      reason: v.reason,
      offered: encodeJson(v.offered),
      previous: v.previous === null ? null : encodeJson(v.previous),
      recorded_at: now,
    }));
}

/** `purpose.channel` back to its parts, using the patch's own keys (either part may contain dots). */
function splitConsentPath(patch: ProfilePatch, path: string): { purpose: string; channel: string } | undefined {
  for (const [purpose, channels] of Object.entries(patch.consents)) {
    if (!path.startsWith(`${purpose}.`)) continue;
    const channel = path.slice(purpose.length + 1);
    if (Object.hasOwn(channels, channel)) return { purpose, channel };
  }
  return undefined;
}

/** A change to one shadow: values merged over the stored ones; external id and push time when given. */
export interface ShadowUpdate {
  externalId?: string | null;
  values: Record<string, Json>;
  /** Fields whose value in the system is no longer known: removed. */
  forget?: readonly string[];
  pushedAt?: string;
}

type ShadowColumns = Pick<Database['shadows'], 'values' | 'values_at' | 'external_id' | 'last_pushed_at'>;

/**
 * `update` merged over a stored shadow (or none), written at `now`: the one merge rule of every
 * shadow write. Each field written takes `now` as its time (`values_at`); the others keep theirs,
 * or, in a row written before field times, the row's `updated_at` (what they were known as of).
 */
export function mergedShadow(
  current: (ShadowColumns & Pick<Database['shadows'], 'updated_at'>) | undefined,
  update: ShadowUpdate,
  now: string,
): ShadowColumns {
  const values: Record<string, Json> = { ...(current ? decodeRecord(current.values) : {}), ...update.values };
  const times: Record<string, string> = current ? fieldTimes(current) : {};
  for (const field of Object.keys(update.values)) times[field] = now;
  for (const field of update.forget ?? []) {
    delete values[field];
    delete times[field];
  }
  return {
    values: encodeJson(values),
    values_at: encodeJson(times),
    external_id: update.externalId === undefined ? (current?.external_id ?? null) : update.externalId,
    last_pushed_at: update.pushedAt ?? current?.last_pushed_at ?? null,
  };
}

/** When each field of a stored shadow was last written or observed; a field without a time (a row older than field times) takes the row's. */
export function fieldTimes(row: Pick<Database['shadows'], 'values' | 'values_at' | 'updated_at'>): Record<string, string> {
  const stored = row.values_at === null ? {} : decodeRecord(row.values_at);
  const times: Record<string, string> = {};
  for (const field of Object.keys(decodeRecord(row.values))) {
    const at = stored[field];
    times[field] = typeof at === 'string' ? at : row.updated_at;
  }
  return times;
}

/**
 * Read-modify-write of one shadow. PostgreSQL locks the row; two writers creating the
 * same shadow at once make the loser retry (its insert does nothing) instead of
 * overwriting the winner's values.
 */
export async function mergeShadow(
  trx: Trx,
  dialect: Dialect,
  profileId: string,
  connector: string,
  update: ShadowUpdate,
  now: string,
): Promise<void> {
  const select = dialect === 'postgres' ? SELECT_SHADOW_FOR_UPDATE : SELECT_SHADOW;
  const { rows } = await trx.executeQuery<ShadowColumns & Pick<Database['shadows'], 'updated_at'>>(
    fixedQuery(dialect, select, [profileId, connector]),
  );
  const current = rows[0];
  const merged = mergedShadow(current, update, now);
  if (current) {
    await trx.executeQuery(
      fixedQuery(dialect, UPDATE_SHADOW, [
        merged.values,
        merged.values_at,
        merged.external_id,
        merged.last_pushed_at,
        now,
        profileId,
        connector,
      ]),
    );
    return;
  }
  const inserted = await trx.executeQuery(
    fixedQuery(dialect, INSERT_SHADOW, [
      profileId,
      connector,
      merged.values,
      merged.values_at,
      merged.external_id,
      merged.last_pushed_at,
      now,
    ]),
  );
  if (inserted.numAffectedRows !== 1n) throw new WriteConflictError(`shadow ${connector} of ${profileId} created concurrently`);
}

export function observedUpdate(observed: Observed): ShadowUpdate {
  const forget = observed.forget && observed.forget.length > 0 ? { forget: observed.forget } : {};
  return observed.externalId === null
    ? { values: observed.values, ...forget }
    : { externalId: observed.externalId, values: observed.values, ...forget };
}

export async function insertAudit(
  trx: Trx,
  dialect: Dialect,
  entry: { at: string; actor: string; action: string; profileId: string | null; detail: Record<string, Json> },
): Promise<void> {
  await trx.executeQuery(
    fixedQuery(dialect, INSERT_AUDIT, [newId(), entry.at, entry.actor, entry.action, entry.profileId, encodeJson(entry.detail)]),
  );
}

/** What the audit log says about a patch: paths and kinds, keyed hashes of identities, never values. */
export function auditDetail(
  patch: ProfilePatch,
  version: number,
  changes: readonly Change[],
  ignored: readonly Ignored[],
  identityHashes: readonly string[],
  rejectedIdentities: number,
): Record<string, Json> {
  const detail: Record<string, Json> = {
    patchId: patch.id,
    source: patch.source,
    at: patch.at,
    version,
    identityHashes: [...identityHashes],
    changes: changes.filter((c) => c.kind !== 'identity').map((c) => `${c.kind}:${c.path}`),
    identitiesAdded: changes.filter((c) => c.kind === 'identity' && c.from === undefined && c.to !== undefined).length,
    ignored: ignored.map((i) => `${i.kind}:${i.path}:${i.reason}`),
  };
  if (patch.reason !== undefined) detail.reason = patch.reason;
  if (rejectedIdentities > 0) detail.rejectedIdentities = rejectedIdentities;
  return detail;
}
