/** The audit repository (both dialects): the audit log. */
import { insertAudit } from '../apply-patch.js';
import { decodeJson, JsonRecord } from '../codec.js';
import type { AuditEntry, AuditFilter, AuditRepository } from '../contracts/audit.js';
import type { StoreDb } from './db.js';

export class KyselyAudit implements AuditRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void> {
    await this.#store.write((trx) =>
      insertAudit(trx, this.#store.dialect, {
        at: entry.at ?? new Date().toISOString(),
        actor: entry.actor,
        action: entry.action,
        profileId: entry.profileId,
        detail: entry.detail,
      }),
    );
  }

  async listAudit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    let query = this.#store.db.selectFrom('audit_log').selectAll();
    if (filter.profileId !== undefined) query = query.where('profile_id', '=', filter.profileId);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    const after = filter.after;
    if (after !== undefined) {
      query = query.where((eb) => eb.or([eb('at', '<', after.at), eb.and([eb('at', '=', after.at), eb('id', '<', after.id)])]));
    }
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
}
