/** The profiles repository (both dialects): patches, profiles, identities, merges, consent ledger. */
import { HistoryKind, HistoryOutcome, HistoryReason, StampedValue } from '../../profile/explain.js';
import type { Identity, Profile, ProfilePatch } from '../../profile/schema.js';
import { applyPatchesInTransaction, preparePatches } from '../apply-batch.js';
import { insertAudit, lockOutboxOf } from '../apply-patch.js';
import { decodeConsentState, decodeJson, decodeProfile } from '../codec.js';
import type { ApplyOptions, ApplyResult, HistoryEntry, IdleProfile, LedgerEntry, ProfileRepository } from '../contracts/profiles.js';
import { normalizeIdentity } from '../identity.js';
import { byAskedId, chunks, oneOf } from './db.js';
import type { StoreDb } from './db.js';
import { WriteConflictError } from '../errors.js';
import { eraseRunErrors } from './runs.js';

export class KyselyProfiles implements ProfileRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async applyPatch(patch: ProfilePatch, options?: ApplyOptions): Promise<ApplyResult> {
    const [result] = await this.applyPatches([options ? { patch, options } : { patch }]);
    if (result === undefined) throw new Error('applyPatches returned no result');
    return result;
  }

  async applyPatches(items: { patch: ProfilePatch; options?: ApplyOptions }[]): Promise<ApplyResult[]> {
    if (items.length === 0) return [];
    const prepared = preparePatches(this.#store.config, items);
    return this.#store.write((trx) => applyPatchesInTransaction(trx, this.#store.config, prepared));
  }

  async getProfile(profileId: string): Promise<Profile | null> {
    return (await this.getProfiles([profileId])).get(profileId) ?? null;
  }

  async getProfiles(profileIds: readonly string[]): Promise<Map<string, Profile>> {
    const { db } = this.#store;
    const resolved = await this.#store.resolveIds(db, profileIds);
    const found = new Map<string, Profile>();
    for (const chunk of chunks([...new Set(resolved.values())])) {
      const rows = await db.selectFrom('profiles').select(['id', 'data', 'version']).where('id', 'in', chunk).execute();
      for (const row of rows) found.set(row.id, decodeProfile(row.data, row.version));
    }
    return byAskedId(resolved, found);
  }

  async idleProfiles(query: { before: string; after?: string; limit: number }): Promise<IdleProfile[]> {
    let select = this.#store.db
      .selectFrom('profiles')
      .select(['id', 'data', 'version', 'updated_at'])
      .where('updated_at', '<', query.before);
    if (query.after !== undefined) select = select.where('id', '>', query.after);
    const rows = await select.orderBy('id').limit(query.limit).execute();
    return rows.map((row) => ({ profile: decodeProfile(row.data, row.version), updatedAt: row.updated_at }));
  }

  async findProfile(identity: Identity): Promise<Profile | null> {
    const normalized = normalizeIdentity(identity, { defaultPhoneCountry: this.#store.config.defaultPhoneCountry });
    if (!normalized.ok) return null;
    const { kind, value, system } = normalized.identity;
    const row = await this.#store.db
      .selectFrom('identities')
      .select('profile_id')
      .where('kind', '=', kind)
      .where('system', '=', kind === 'external' ? (system ?? '') : '')
      .where('value', '=', value)
      .executeTakeFirst();
    return row ? this.getProfile(row.profile_id) : null;
  }

  async findProfileIdByExternalId(connector: string, externalId: string): Promise<string | null> {
    const [found = null] = await this.findProfileIdsByExternalIds(connector, [externalId]);
    return found;
  }

  async findProfileIdsByExternalIds(connector: string, externalIds: readonly string[]): Promise<(string | null)[]> {
    const { db } = this.#store;
    const found = new Map<string, string>();
    const unique = [...new Set(externalIds)];
    for (const chunk of chunks(unique)) {
      const rows = await db
        .selectFrom('shadows')
        .select(['external_id', 'profile_id'])
        .where('connector', '=', connector)
        .where('external_id', 'in', chunk)
        .execute();
      for (const row of rows) if (row.external_id !== null && !found.has(row.external_id)) found.set(row.external_id, row.profile_id);
    }
    const rest = unique.filter((id) => !found.has(id));
    for (const chunk of chunks(rest)) {
      const byTrimmed = new Map<string, string[]>();
      for (const id of chunk) byTrimmed.set(id.trim(), [...(byTrimmed.get(id.trim()) ?? []), id]);
      const rows = await db
        .selectFrom('identities')
        .select(['value', 'profile_id'])
        .where('kind', '=', 'external')
        .where('system', '=', connector)
        .where('value', 'in', [...byTrimmed.keys()])
        .execute();
      for (const row of rows) for (const id of byTrimmed.get(row.value) ?? []) found.set(id, row.profile_id);
    }
    return externalIds.map((id) => found.get(id) ?? null);
  }

  async consentHistory(profileId: string): Promise<LedgerEntry[]> {
    const { db } = this.#store;
    const id = await this.#store.resolveId(db, profileId);
    const rows = await db
      .selectFrom('consent_ledger')
      .selectAll()
      .where('profile_id', '=', id)
      .orderBy('recorded_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      profileId: row.profile_id,
      purpose: row.purpose,
      channel: row.channel,
      state: decodeConsentState(row.state),
      previous: row.previous === null ? null : oneOf(row.previous, ['granted', 'denied'] as const),
      patchId: row.patch_id,
      recordedAt: row.recorded_at,
      accepted: Boolean(row.accepted),
    }));
  }

  async profileHistory(profileId: string, options: { limit?: number } = {}): Promise<HistoryEntry[]> {
    const { db } = this.#store;
    const id = await this.#store.resolveId(db, profileId);
    let query = db
      .selectFrom('profile_history')
      .selectAll()
      .where('profile_id', '=', id)
      .orderBy('recorded_at', 'desc')
      .orderBy('id', 'desc');
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = (await query.execute()).reverse();
    return rows.map((row) => ({
      id: row.id,
      profileId: row.profile_id,
      patchId: row.patch_id,
      actor: row.actor,
      kind: HistoryKind.parse(row.kind),
      path: row.path,
      outcome: HistoryOutcome.parse(row.outcome),
      reason: HistoryReason.parse(row.reason),
      offered: decodeJson(row.offered, StampedValue),
      previous: row.previous === null ? null : decodeJson(row.previous, StampedValue),
      recordedAt: row.recorded_at,
    }));
  }

  async purgeProfileHistory(before: string): Promise<number> {
    const first = await this.#store.db
      .selectFrom('profile_history')
      .select('id')
      .where('recorded_at', '<', before)
      .limit(1)
      .executeTakeFirst();
    if (!first) return 0;
    const result = await this.#store.write((trx) => trx.deleteFrom('profile_history').where('recorded_at', '<', before).executeTakeFirst());
    return Number(result.numDeletedRows);
  }

  async deleteProfileData(profileId: string): Promise<void> {
    await this.#store.write(async (trx) => {
      const id = await this.#store.resolveId(trx, profileId);
      if (this.#store.dialect === 'postgres') {
        // Ingest's order: the profile row (its compare-and-swap), then its outbox rows by connector.
        const locked = await trx.selectFrom('profiles').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
        // A merge that committed after the id was resolved moved the person into another profile:
        // the attempt starts again and resolves to it (nothing left: erased before, nothing to do).
        if (!locked && (await this.#store.resolveId(trx, profileId)) !== id) {
          throw new WriteConflictError(`profile ${id} merged into another while it was being erased`);
        }
        await lockOutboxOf(trx, this.#store.dialect, [id]);
      }
      const merged = await trx.selectFrom('profile_aliases').select('merged_id').where('into_id', '=', id).execute();
      const identities = await trx.selectFrom('identities').select('value').where('profile_id', '=', id).execute();
      const records = await trx.selectFrom('shadows').select('external_id').where('profile_id', '=', id).execute();
      await eraseRunErrors(
        trx,
        [id, profileId, ...merged.map((m) => m.merged_id)],
        [...identities.map((i) => i.value), ...records.flatMap((r) => (r.external_id === null ? [] : [r.external_id]))],
      );
      await trx.deleteFrom('identities').where('profile_id', '=', id).execute();
      await trx.deleteFrom('consent_ledger').where('profile_id', '=', id).execute();
      await trx.deleteFrom('profile_history').where('profile_id', '=', id).execute();
      await trx.deleteFrom('shadows').where('profile_id', '=', id).execute();
      await trx.deleteFrom('outbox').where('profile_id', '=', id).execute();
      await trx.deleteFrom('push_log').where('profile_id', '=', id).execute();
      await trx
        .deleteFrom('profile_aliases')
        .where((eb) => eb.or([eb('into_id', '=', id), eb('merged_id', '=', id)]))
        .execute();
      const deleted = await trx.deleteFrom('profiles').where('id', '=', id).executeTakeFirst();
      if (deleted.numDeletedRows > 0n) {
        await insertAudit(trx, this.#store.dialect, {
          at: new Date().toISOString(),
          actor: 'store',
          action: 'profile.deleted',
          profileId: id,
          detail: {},
        });
      }
    });
  }
}
