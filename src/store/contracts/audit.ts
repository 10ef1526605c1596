/** The audit aggregate: who or what changed what; identities only as keyed hashes. */
import type { Json } from '../../profile/schema.js';

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  profileId: string | null;
  /** Structured detail; never contains e-mail addresses, phone numbers or tokens in clear. */
  detail: Record<string, Json>;
}

/** Which audit entries to list; every field narrows the list. */
export interface AuditFilter {
  profileId?: string;
  actor?: string;
  action?: string;
  /** Entries at or after this instant. */
  since?: string;
  /** Entries before this instant. */
  until?: string;
  /**
   * Entries after this one in the list's order (newest first): the `at` and `id` of the last
   * entry of the previous page.
   */
  after?: { at: string; id: string };
  /** @defaultValue 100 */
  limit?: number;
}

/** The audit log. */
export interface AuditRepository {
  appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void>;
  /** Newest first (by `at`, then `id`); `limit` defaults to 100. */
  listAudit(filter?: AuditFilter): Promise<AuditEntry[]>;
}
