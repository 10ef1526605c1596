/** The data-subject request repository (both dialects): requests and their status per system. */
import { decodeJson, encodeJson, JsonRecord, StringArray } from '../codec.js';
import type { DataSubjectRequest, DsrKind, DsrRepository, DsrStatus, DsrSystemStatus } from '../contracts/dsr.js';
import type { DsrTable } from '../db-schema.js';
import { StoreError } from '../errors.js';
import { chunks, oneOf } from './db.js';
import type { StoreDb } from './db.js';

const DSR_KINDS: readonly DsrKind[] = ['erase', 'export', 'rectify', 'restrict', 'unrestrict', 'object', 'withdraw_objection'];
const DSR_STATUSES: readonly DsrStatus[] = ['received', 'in_progress', 'completed', 'failed'];
const SYSTEM_STATUSES: readonly DsrSystemStatus['status'][] = ['pending', 'in_progress', 'completed', 'failed', 'not_applicable'];

export class KyselyDsr implements DsrRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async createDsr(request: Omit<DataSubjectRequest, 'systems'> & { systems: string[] }): Promise<DataSubjectRequest> {
    const now = new Date().toISOString();
    await this.#store.write(async (trx) => {
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
    const row = await this.#store.db.selectFrom('dsr').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const [request] = await this.#withSystems([row]);
    return request ?? null;
  }

  async #withSystems(rows: DsrTable[]): Promise<DataSubjectRequest[]> {
    const systems = new Map<string, DsrSystemStatus[]>();
    for (const chunk of chunks(rows.map((row) => row.id))) {
      const systemRows = await this.#store.db
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
    await this.#store.write(async (trx) => {
      const found = await trx.selectFrom('dsr').select('id').where('id', '=', id).executeTakeFirst();
      if (!found) throw new StoreError('dsr_not_found', `no data-subject request ${id}`);
      if (Object.keys(set).length > 0) await trx.updateTable('dsr').set(set).where('id', '=', id).execute();
    });
  }

  async updateDsrSystem(id: string, connector: string, update: Partial<Omit<DsrSystemStatus, 'connector' | 'updatedAt'>>): Promise<void> {
    const now = new Date().toISOString();
    await this.#store.write(async (trx) => {
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

  async listDsr(
    filter: { status?: DsrStatus; overdueAt?: string; profileId?: string; kind?: DsrKind } = {},
  ): Promise<DataSubjectRequest[]> {
    let query = this.#store.db.selectFrom('dsr').selectAll();
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
}
