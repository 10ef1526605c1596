/** The `Store` implementation shared by both dialects. */
import type { Kysely, Transaction } from 'kysely';
import { newId } from './ids.js';
import type { Logger } from 'pino';
import { Json } from '../profile/schema.js';
import type { Identity, Profile, ProfilePatch } from '../profile/schema.js';
import { applyPatchesInTransaction, applyPatchInTransaction, insertAudit, mergeShadow, mergedShadow, suppressedAmong } from './apply-patch.js';
import type { ApplyContext } from './apply-patch.js';
import { decodeConsentState, decodeJson, decodeProfile, decodeRecord, encodeJson, JsonRecord, StringArray } from './codec.js';
import type { Database, DsrTable } from './db-schema.js';
import { StoreError } from './errors.js';
import { keyedIdentityHash, normalizeIdentity } from './identity.js';
import { runMigrations } from './migrations.js';
import { withRetry } from './retry.js';
import type {
  ApplyOptions,
  ApplyResult,
  AuditEntry,
  DataSubjectRequest,
  DsrKind,
  DsrStatus,
  DsrSystemStatus,
  LedgerEntry,
  OutboxRow,
  OutboxSettlement,
  PushLogEntry,
  Shadow,
  Store,
} from './types.js';

const DSR_KINDS: readonly DsrKind[] = ['erase', 'export', 'rectify', 'restrict', 'unrestrict', 'object', 'withdraw_objection'];
const DSR_STATUSES: readonly DsrStatus[] = ['received', 'in_progress', 'completed', 'failed'];
const SYSTEM_STATUSES: readonly DsrSystemStatus['status'][] = ['pending', 'in_progress', 'completed', 'failed', 'not_applicable'];
/** Chunk size for `IN (...)` lists, well under both dialects' parameter limits. */
const CHUNK = 500;

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new Error(`unexpected stored value ${JSON.stringify(value)}`);
  return found;
}

function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface KyselyStoreConfig extends ApplyContext {
  logger: Logger;
  /** Attempts of a transaction that keeps losing write races before giving up. */
  retryAttempts: number;
  /**
   * SQLite: how long a writer keeps trying for the write lock, and the longest pause between
   * tries. The wait is asynchronous (see `dialect.ts`), so a busy database never blocks the
   * event loop.
   */
  busyRetry?: { budgetMs: number; maxDelayMs: number };
}

export class KyselyStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #db: Kysely<Database>;
  readonly #config: KyselyStoreConfig;

  constructor(db: Kysely<Database>, config: KyselyStoreConfig) {
    this.#db = db;
    this.#config = config;
    this.dialect = config.dialect;
  }

  /** Runs `fn` in a write transaction, retried from scratch when it loses a race. */
  #write<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return withRetry(() => this.#db.transaction().execute(fn), {
      attempts: this.#config.retryAttempts,
      ...this.#config.busyRetry,
      onRetry: (attempt, error) =>
        this.#config.logger.debug({ attempt, code: errorCode(error) }, 'store transaction retried'),
    });
  }

  migrate(): Promise<string[]> {
    return withRetry(() => runMigrations(this.#db, this.dialect), { attempts: 5, ...this.#config.busyRetry });
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  applyPatch(patch: ProfilePatch, options?: ApplyOptions): Promise<ApplyResult> {
    return this.#write((trx) => applyPatchInTransaction(trx, this.#config, patch, options));
  }

  applyPatches(items: { patch: ProfilePatch; options?: ApplyOptions }[]): Promise<ApplyResult[]> {
    if (items.length === 0) return Promise.resolve([]);
    return this.#write((trx) => applyPatchesInTransaction(trx, this.#config, items));
  }

  async #resolveId(db: Kysely<Database> | Transaction<Database>, profileId: string): Promise<string> {
    const alias = await db
      .selectFrom('profile_aliases')
      .select('into_id')
      .where('merged_id', '=', profileId)
      .executeTakeFirst();
    return alias?.into_id ?? profileId;
  }

  async getProfile(profileId: string): Promise<Profile | null> {
    return (await this.getProfiles([profileId])).get(profileId) ?? null;
  }


  /** Where each id leads after merges (ids not merged away map to themselves). */
  async #resolveIds(db: Kysely<Database> | Transaction<Database>, profileIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map(profileIds.map((id) => [id, id]));
    for (const chunk of chunks([...out.keys()])) {
      const rows = await db.selectFrom('profile_aliases').select(['merged_id', 'into_id']).where('merged_id', 'in', chunk).execute();
      for (const row of rows) out.set(row.merged_id, row.into_id);
    }
    return out;
  }

  async getProfiles(profileIds: readonly string[]): Promise<Map<string, Profile>> {
    const resolved = await this.#resolveIds(this.#db, profileIds);
    const found = new Map<string, Profile>();
    for (const chunk of chunks([...new Set(resolved.values())])) {
      const rows = await this.#db.selectFrom('profiles').select(['id', 'data', 'version']).where('id', 'in', chunk).execute();
      for (const row of rows) found.set(row.id, decodeProfile(row.data, row.version));
    }
    const out = new Map<string, Profile>();
    for (const [asked, id] of resolved) {
      const profile = found.get(id);
      if (profile) out.set(asked, profile);
    }
    return out;
  }

  async findProfile(identity: Identity): Promise<Profile | null> {
    const normalized = normalizeIdentity(identity, { defaultPhoneCountry: this.#config.defaultPhoneCountry });
    if (!normalized.ok) return null;
    const { kind, value, system } = normalized.identity;
    const row = await this.#db
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
    const found = new Map<string, string>();
    const unique = [...new Set(externalIds)];
    for (const chunk of chunks(unique)) {
      const rows = await this.#db
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
      const rows = await this.#db
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
    const id = await this.#resolveId(this.#db, profileId);
    const rows = await this.#db
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

  async getShadow(profileId: string, connector: string): Promise<Shadow | null> {
    return (await this.getShadows(connector, [profileId])).get(profileId) ?? null;
  }


  async getShadows(connector: string, profileIds: readonly string[]): Promise<Map<string, Shadow>> {
    const resolved = await this.#resolveIds(this.#db, profileIds);
    const found = new Map<string, Shadow>();
    for (const chunk of chunks([...new Set(resolved.values())])) {
      const rows = await this.#db
        .selectFrom('shadows')
        .selectAll()
        .where('connector', '=', connector)
        .where('profile_id', 'in', chunk)
        .execute();
      for (const row of rows) found.set(row.profile_id, toShadow(row));
    }
    const out = new Map<string, Shadow>();
    for (const [asked, id] of resolved) {
      const shadow = found.get(id);
      if (shadow) out.set(asked, shadow);
    }
    return out;
  }

  async shadowsByConnector(connector: string, options: { limit?: number; after?: string } = {}): Promise<Shadow[]> {
    let query = this.#db.selectFrom('shadows').selectAll().where('connector', '=', connector);
    if (options.after !== undefined) query = query.where('profile_id', '>', options.after);
    const rows = await query
      .orderBy('profile_id')
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(toShadow);
  }

  async shadowsByProfile(profileId: string): Promise<Shadow[]> {
    const id = await this.#resolveId(this.#db, profileId);
    const rows = await this.#db.selectFrom('shadows').selectAll().where('profile_id', '=', id).orderBy('connector').execute();
    return rows.map(toShadow);
  }

  async updateShadow(
    profileId: string,
    connector: string,
    update: { externalId?: string | null; values: Record<string, Json>; pushedAt?: string },
  ): Promise<void> {
    await this.#write(async (trx) =>
      mergeShadow(trx, this.dialect, await this.#resolveId(trx, profileId), connector, update, new Date().toISOString()),
    );
  }

  async recordPushes(entries: readonly PushLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = new Date().toISOString();
    await this.#write(async (trx) => {
      const resolved = await this.#resolveIds(trx, entries.map((entry) => entry.profileId));
      // Read the batch's shadows at once (PostgreSQL: locked, as mergeShadow does one by one),
      // merge in memory, write them back with one upsert per chunk.
      const merged = new Map<string, Database['shadows']>();
      const byConnector = new Map<string, string[]>();
      for (const entry of entries) {
        const list = byConnector.get(entry.connector) ?? [];
        list.push(resolved.get(entry.profileId) ?? entry.profileId);
        byConnector.set(entry.connector, list);
      }
      for (const [connector, ids] of byConnector) {
        for (const chunk of chunks([...new Set(ids)])) {
          let select = trx.selectFrom('shadows').selectAll().where('connector', '=', connector).where('profile_id', 'in', chunk);
          if (this.dialect === 'postgres') select = select.forUpdate();
          for (const row of await select.execute()) merged.set(`${row.profile_id}\u0000${connector}`, row);
        }
      }
      const logged: Database['push_log'][] = [];
      const touched = new Set<string>();
      for (const entry of entries) {
        const id = resolved.get(entry.profileId) ?? entry.profileId;
        const key = `${id}\u0000${entry.connector}`;
        const update = { ...(entry.externalId !== null ? { externalId: entry.externalId } : {}), values: entry.values, pushedAt: entry.pushedAt };
        merged.set(key, { profile_id: id, connector: entry.connector, ...mergedShadow(merged.get(key), update), updated_at: now });
        touched.add(key);
        logged.push({
          id: newId(),
          profile_id: id,
          connector: entry.connector,
          external_id: entry.externalId,
          values: encodeJson(entry.values),
          pushed_at: entry.pushedAt,
        });
      }
      const rows = [...touched].flatMap((key) => merged.get(key) ?? []);
      for (const chunk of chunks(rows, 100)) {
        await trx
          .insertInto('shadows')
          .values(chunk)
          .onConflict((oc) =>
            oc.columns(['profile_id', 'connector']).doUpdateSet((eb) => ({
              values: eb.ref('excluded.values'),
              external_id: eb.ref('excluded.external_id'),
              last_pushed_at: eb.ref('excluded.last_pushed_at'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      for (const chunk of chunks(logged, 100)) await trx.insertInto('push_log').values(chunk).execute();
    });
  }

  async pushHistory(profileId: string): Promise<PushLogEntry[]> {
    const id = await this.#resolveId(this.#db, profileId);
    const rows = await this.#db
      .selectFrom('push_log')
      .selectAll()
      .where('profile_id', '=', id)
      .orderBy('pushed_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      profileId: row.profile_id,
      connector: row.connector,
      externalId: row.external_id,
      values: decodeRecord(row.values),
      pushedAt: row.pushed_at,
    }));
  }

  async claimOutbox(limit: number, leaseMs = 30_000): Promise<OutboxRow[]> {
    if (limit <= 0) return [];
    return this.#write(async (trx) => {
      const now = new Date();
      let query = trx
        .selectFrom('outbox')
        .select(['id', 'profile_id', 'connector', 'profile_version', 'created_at'])
        .where('relayed_at', 'is', null)
        .where((eb) => eb.or([eb('leased_until', 'is', null), eb('leased_until', '<', now.toISOString())]))
        .orderBy('created_at')
        .orderBy('id')
        .limit(limit);
      // Several relays: each skips the rows another is claiming right now.
      if (this.dialect === 'postgres') query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      const leasedUntil = new Date(now.getTime() + leaseMs).toISOString();
      await trx
        .updateTable('outbox')
        .set({ leased_until: leasedUntil })
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .execute();
      return rows.map((row) => ({
        id: row.id,
        profileId: row.profile_id,
        connector: row.connector,
        profileVersion: row.profile_version,
        createdAt: row.created_at,
        leasedUntil,
      }));
    });
  }

  async ackOutbox(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#write(async (trx) => {
      for (const chunk of chunks(ids)) await trx.deleteFrom('outbox').where('id', 'in', chunk).execute();
    });
  }

  async markRelayed(ids: readonly string[], leasedUntil: string): Promise<void> {
    if (ids.length === 0) return;
    const now = new Date().toISOString();
    await this.#write(async (trx) => {
      for (const chunk of chunks(ids)) {
        await trx.updateTable('outbox').set({ relayed_at: now, leased_until: null }).where('id', 'in', chunk).where('leased_until', '=', leasedUntil).execute();
      }
    });
  }

  async settleOutbox(connector: string, settled: readonly OutboxSettlement[]): Promise<void> {
    if (settled.length === 0) return;
    await this.#write(async (trx) => {
      for (const chunk of chunks(settled, 250)) {
        await trx
          .deleteFrom('outbox')
          .where('connector', '=', connector)
          .where((eb) =>
            eb.or(
              chunk.map((s) =>
                s.version === null
                  ? eb('profile_id', '=', s.profileId)
                  : eb.and([eb('profile_id', '=', s.profileId), eb('profile_version', '<=', s.version)]),
              ),
            ),
          )
          .execute();
      }
    });
  }

  async redriveOutbox(): Promise<number> {
    return this.#write(async (trx) => {
      const result = await trx
        .updateTable('outbox')
        .set({ relayed_at: null, leased_until: null })
        .where((eb) => eb.or([eb('relayed_at', 'is not', null), eb('leased_until', 'is not', null)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  async getCursor(connector: string): Promise<Json | null> {
    const row = await this.#db.selectFrom('cursors').select('value').where('connector', '=', connector).executeTakeFirst();
    return row ? decodeJson(row.value, Json) : null;
  }

  async setCursor(connector: string, cursor: Json): Promise<void> {
    const now = new Date().toISOString();
    const value = encodeJson(cursor);
    await this.#write((trx) =>
      trx
        .insertInto('cursors')
        .values({ connector, value, updated_at: now })
        .onConflict((oc) => oc.column('connector').doUpdateSet({ value, updated_at: now }))
        .execute(),
    );
  }

  hashIdentity(identity: Identity): string {
    const normalized = normalizeIdentity(identity, { defaultPhoneCountry: this.#config.defaultPhoneCountry });
    return keyedIdentityHash(normalized.ok ? normalized.identity : identity, this.#config.hashKey);
  }

  async suppress(hashes: readonly string[], reason: string): Promise<void> {
    if (hashes.length === 0) return;
    const now = new Date().toISOString();
    await this.#write(async (trx) => {
      for (const chunk of chunks([...new Set(hashes)])) {
        await trx
          .insertInto('suppression')
          .values(chunk.map((hash) => ({ hash, reason, created_at: now })))
          .onConflict((oc) => oc.column('hash').doNothing())
          .execute();
      }
    });
  }

  async isSuppressed(hashes: readonly string[]): Promise<boolean> {
    return (await suppressedAmong(this.#db, hashes)).size > 0;
  }


  suppressedAmong(hashes: readonly string[]): Promise<Set<string>> {
    return suppressedAmong(this.#db, hashes);
  }

  async createDsr(request: Omit<DataSubjectRequest, 'systems'> & { systems: string[] }): Promise<DataSubjectRequest> {
    const now = new Date().toISOString();
    await this.#write(async (trx) => {
      await trx
        .insertInto('dsr')
        .values({
          id: request.id,
          kind: request.kind,
          status: request.status,
          profile_id: request.profileId,
          identity_hashes: encodeJson(request.identityHashes),
          received_at: request.receivedAt,
          due_at: request.dueAt,
          extended_to: request.extendedTo,
          subject_told_at: request.subjectToldAt,
          completed_at: request.completedAt,
          detail: encodeJson(request.detail),
        })
        .execute();
      const systems = [...new Set(request.systems)];
      if (systems.length > 0) {
        await trx
          .insertInto('dsr_systems')
          .values(
            systems.map((connector) => ({
              dsr_id: request.id,
              connector,
              status: 'pending',
              attempts: 0,
              error: null,
              updated_at: now,
            })),
          )
          .execute();
      }
    });
    const created = await this.getDsr(request.id);
    if (!created) throw new StoreError('dsr_not_found', `data-subject request ${request.id} vanished after insert`);
    return created;
  }

  async getDsr(id: string): Promise<DataSubjectRequest | null> {
    const row = await this.#db.selectFrom('dsr').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const [request] = await this.#withSystems([row]);
    return request ?? null;
  }

  async #withSystems(rows: DsrTable[]): Promise<DataSubjectRequest[]> {
    const systems = new Map<string, DsrSystemStatus[]>();
    for (const chunk of chunks(rows.map((row) => row.id))) {
      const systemRows = await this.#db
        .selectFrom('dsr_systems')
        .selectAll()
        .where('dsr_id', 'in', chunk)
        .orderBy('connector')
        .execute();
      for (const s of systemRows) {
        const list = systems.get(s.dsr_id) ?? [];
        list.push({
          connector: s.connector,
          status: oneOf(s.status, SYSTEM_STATUSES),
          attempts: s.attempts,
          error: s.error,
          updatedAt: s.updated_at,
        });
        systems.set(s.dsr_id, list);
      }
    }
    return rows.map((row) => ({
      id: row.id,
      kind: oneOf(row.kind, DSR_KINDS),
      status: oneOf(row.status, DSR_STATUSES),
      profileId: row.profile_id,
      identityHashes: decodeJson(row.identity_hashes, StringArray),
      receivedAt: row.received_at,
      dueAt: row.due_at,
      extendedTo: row.extended_to,
      subjectToldAt: row.subject_told_at,
      completedAt: row.completed_at,
      detail: decodeJson(row.detail, JsonRecord),
      systems: systems.get(row.id) ?? [],
    }));
  }

  async updateDsr(
    id: string,
    update: Partial<Pick<DataSubjectRequest, 'status' | 'extendedTo' | 'subjectToldAt' | 'completedAt' | 'detail' | 'profileId'>>,
  ): Promise<void> {
    const set: Partial<DsrTable> = {};
    if (update.status !== undefined) set.status = update.status;
    if (update.extendedTo !== undefined) set.extended_to = update.extendedTo;
    if (update.subjectToldAt !== undefined) set.subject_told_at = update.subjectToldAt;
    if (update.completedAt !== undefined) set.completed_at = update.completedAt;
    if (update.detail !== undefined) set.detail = encodeJson(update.detail);
    if (update.profileId !== undefined) set.profile_id = update.profileId;
    await this.#write(async (trx) => {
      const found = await trx.selectFrom('dsr').select('id').where('id', '=', id).executeTakeFirst();
      if (!found) throw new StoreError('dsr_not_found', `no data-subject request ${id}`);
      if (Object.keys(set).length > 0) await trx.updateTable('dsr').set(set).where('id', '=', id).execute();
    });
  }

  async updateDsrSystem(
    id: string,
    connector: string,
    update: Partial<Omit<DsrSystemStatus, 'connector' | 'updatedAt'>>,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.#write(async (trx) => {
      const found = await trx.selectFrom('dsr').select('id').where('id', '=', id).executeTakeFirst();
      if (!found) throw new StoreError('dsr_not_found', `no data-subject request ${id}`);
      const row = {
        dsr_id: id,
        connector,
        status: update.status ?? 'pending',
        attempts: update.attempts ?? 0,
        error: update.error ?? null,
        updated_at: now,
      };
      const set: { status?: string; attempts?: number; error?: string | null; updated_at: string } = { updated_at: now };
      if (update.status !== undefined) set.status = update.status;
      if (update.attempts !== undefined) set.attempts = update.attempts;
      if (update.error !== undefined) set.error = update.error;
      await trx
        .insertInto('dsr_systems')
        .values(row)
        .onConflict((oc) => oc.columns(['dsr_id', 'connector']).doUpdateSet(set))
        .execute();
    });
  }

  async listDsr(filter: { status?: DsrStatus; overdueAt?: string; profileId?: string; kind?: DsrKind } = {}): Promise<DataSubjectRequest[]> {
    let query = this.#db.selectFrom('dsr').selectAll();
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.profileId !== undefined) query = query.where('profile_id', '=', filter.profileId);
    if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
    if (filter.overdueAt !== undefined) {
      const overdueAt = filter.overdueAt;
      // Overdue: still open and past its (possibly extended) deadline.
      query = query
        .where('status', 'in', ['received', 'in_progress'])
        .where((eb) => eb(eb.fn.coalesce('extended_to', 'due_at'), '<', overdueAt));
    }
    const rows = await query.orderBy('received_at').orderBy('id').execute();
    return this.#withSystems(rows);
  }

  async appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void> {
    await this.#write((trx) =>
      insertAudit(trx, this.dialect, {
        at: entry.at ?? new Date().toISOString(),
        actor: entry.actor,
        action: entry.action,
        profileId: entry.profileId,
        detail: entry.detail,
      }),
    );
  }

  async listAudit(filter: { profileId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    let query = this.#db.selectFrom('audit_log').selectAll();
    if (filter.profileId !== undefined) query = query.where('profile_id', '=', filter.profileId);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit ?? 100)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actor: row.actor,
      action: row.action,
      profileId: row.profile_id,
      detail: decodeJson(row.detail, JsonRecord),
    }));
  }

  async deleteProfileData(profileId: string): Promise<void> {
    await this.#write(async (trx) => {
      const id = await this.#resolveId(trx, profileId);
      await trx.deleteFrom('identities').where('profile_id', '=', id).execute();
      await trx.deleteFrom('consent_ledger').where('profile_id', '=', id).execute();
      await trx.deleteFrom('shadows').where('profile_id', '=', id).execute();
      await trx.deleteFrom('outbox').where('profile_id', '=', id).execute();
      await trx.deleteFrom('push_log').where('profile_id', '=', id).execute();
      await trx.deleteFrom('profile_aliases').where((eb) => eb.or([eb('into_id', '=', id), eb('merged_id', '=', id)])).execute();
      const deleted = await trx.deleteFrom('profiles').where('id', '=', id).executeTakeFirst();
      if (deleted.numDeletedRows > 0n) {
        await insertAudit(trx, this.dialect, {
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

function toShadow(row: Database['shadows']): Shadow {
  return {
    profileId: row.profile_id,
    connector: row.connector,
    externalId: row.external_id,
    values: decodeRecord(row.values),
    lastPushedAt: row.last_pushed_at,
    updatedAt: row.updated_at,
  };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}
