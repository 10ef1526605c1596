/** The audit repository (both dialects): the audit log. */
import { insertAudit } from '../apply-patch.js';
import { decodeJson, JsonRecord } from '../codec.js';
import type { AuditEntry, AuditRepository } from '../contracts/audit.js';
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

  async listAudit(filter: { profileId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    let query = this.#store.db.selectFrom('audit_log').selectAll();
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
}
