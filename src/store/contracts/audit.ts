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

/** The audit log. */
export interface AuditRepository {
  appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void>;
  /** Newest first; `limit` defaults to 100. */
  listAudit(filter?: { profileId?: string; limit?: number }): Promise<AuditEntry[]>;
}
