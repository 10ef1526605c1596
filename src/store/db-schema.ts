/**
 * Row types of the store's tables, as Kysely sees them. Both dialects use the same
 * columns: JSON is stored as text (see `codec.ts`), instants as ISO-8601 UTC text
 * (which sorts chronologically), booleans as 0/1 integers.
 */
export interface ProfilesTable {
  id: string;
  version: number;
  /** The whole `Profile` as JSON (id and version included, kept in step with the columns). */
  data: string;
  created_at: string;
  updated_at: string;
}

/** Ids of profiles merged away, pointing at the profile that absorbed them. */
export interface ProfileAliasesTable {
  merged_id: string;
  into_id: string;
  merged_at: string;
}

export interface IdentitiesTable {
  kind: string;
  /** Connector namespace for `external` ids; `''` for e-mail and phone. */
  system: string;
  value: string;
  profile_id: string;
  created_at: string;
}

export interface ConsentLedgerTable {
  id: string;
  profile_id: string;
  purpose: string;
  channel: string;
  /** `ConsentState` as JSON. */
  state: string;
  previous: string | null;
  patch_id: string;
  recorded_at: string;
  accepted: number;
}

export interface ShadowsTable {
  profile_id: string;
  connector: string;
  external_id: string | null;
  values: string;
  /** JSON: field -> when its value was last written or observed (ISO); null on rows written before `0008_shadow_values_at`. */
  values_at: string | null;
  last_pushed_at: string | null;
  updated_at: string;
}

export interface PushLogTable {
  id: string;
  profile_id: string;
  connector: string;
  external_id: string | null;
  values: string;
  pushed_at: string;
}

export interface OutboxTable {
  id: string;
  profile_id: string;
  connector: string;
  profile_version: number;
  created_at: string;
  updated_at: string;
  /** Set while a relay holds the row; the row is claimable again once this instant passes. */
  leased_until: string | null;
  /** When a relay put the row's profile in the connector's dirty set; null while it waits for the relay. */
  relayed_at: string | null;
}

export interface CursorsTable {
  connector: string;
  value: string;
  updated_at: string;
}

export interface SuppressionTable {
  hash: string;
  reason: string;
  created_at: string;
}

export interface DsrTable {
  id: string;
  kind: string;
  status: string;
  profile_id: string | null;
  identity_hashes: string;
  received_at: string;
  due_at: string;
  extended_to: string | null;
  subject_told_at: string | null;
  completed_at: string | null;
  detail: string;
}

export interface DsrSystemsTable {
  dsr_id: string;
  connector: string;
  status: string;
  attempts: number;
  error: string | null;
  updated_at: string;
}

export interface AuditLogTable {
  id: string;
  at: string;
  actor: string;
  action: string;
  profile_id: string | null;
  detail: string;
}

/**
 * Why each value of a profile won or lost: one row per slot of each patch merged into it
 * (`profile/explain.ts`), with the values (JSON text of `StampedValue`). Personal data like the
 * profile: moved with it on an identity merge, deleted with it on erasure.
 */
export interface ProfileHistoryTable {
  id: string;
  profile_id: string;
  patch_id: string;
  /** Who made the change (the audit log's actor: the source, `admin:<key>`, ...). */
  actor: string;
  /** `identity`, `attribute`, `consent`, `subscription` or `right`. */
  kind: string;
  path: string;
  /** `won` or `lost`. */
  outcome: string;
  reason: string;
  offered: string;
  previous: string | null;
  recorded_at: string;
}

/** One outbound webhook message for one endpoint (connector instance), until delivered or dead. */
export interface WebhookDeliveriesTable {
  endpoint: string;
  /** The `webhook-id`, unique per endpoint. */
  message_id: string;
  type: string;
  /** The exact JSON text sent (`{type, timestamp, data}`): every attempt signs these bytes. */
  body: string;
  /** `pending`, `delivered` or `dead`. */
  status: string;
  attempts: number;
  /** When the row is due; while a worker holds it, the end of that worker's lease. */
  next_attempt_at: string;
  /** The claim of the worker holding the row; its outcome is recorded only under that claim. */
  claim_id: string | null;
  last_status: number | null;
  last_error: string | null;
  /** When it was enqueued. */
  created_at: string;
  delivered_at: string | null;
}

/** The state of one outbound webhook endpoint. */
export interface WebhookEndpointsTable {
  endpoint: string;
  /** SHA-256 (hex) of the URL: a new URL enables a disabled endpoint again. */
  url_sha256: string;
  /** `enabled`, `disabled_gone` (410) or `disabled_exhausted`. */
  state: string;
  disabled_at: string | null;
  reason: string | null;
  last_success_at: string | null;
  updated_at: string;
}

/** One-time links of the public request page (see `contracts/verifications.ts`). */
export interface RequesterVerificationsTable {
  id: string;
  /** SHA-256 (hex) of the link's token; the token itself is never stored. */
  token_hash: string;
  address_hash: string;
  client_hash: string;
  /** `export` or `erase`. */
  kind: string;
  locale: string;
  /** The address, encrypted (AES-256-GCM) by the caller. */
  sealed_address: string;
  created_at: string;
  expires_at: string;
  consumed_at: string | null;
  dsr_id: string | null;
}

/** One sync run (see `contracts/runs.ts`). */
export interface SyncRunsTable {
  id: string;
  connector: string;
  /** `RunKind`. */
  kind: string;
  /** `RunTrigger`. */
  triggered_by: string;
  /** `RunStatus`. */
  status: string;
  started_at: string;
  ended_at: string | null;
  /** While running: abandoned once this instant passes. */
  leased_until: string | null;
  read_count: number;
  changed_count: number;
  written_count: number;
  skipped_count: number;
  failed_count: number;
  error_count: number;
  /** `RunRowError[]` as JSON (at most `MAX_RUN_ERRORS`). */
  errors: string;
  /** `RunFailure` as JSON, or null. */
  failure: string | null;
  request_id: string;
}

export interface MigrationsTable {
  version: string;
  applied_at: string;
}

export interface Database {
  profiles: ProfilesTable;
  profile_aliases: ProfileAliasesTable;
  identities: IdentitiesTable;
  consent_ledger: ConsentLedgerTable;
  shadows: ShadowsTable;
  outbox: OutboxTable;
  push_log: PushLogTable;
  cursors: CursorsTable;
  suppression: SuppressionTable;
  dsr: DsrTable;
  dsr_systems: DsrSystemsTable;
  audit_log: AuditLogTable;
  profile_history: ProfileHistoryTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_endpoints: WebhookEndpointsTable;
  requester_verifications: RequesterVerificationsTable;
  sync_runs: SyncRunsTable;
  concord_migrations: MigrationsTable;
}
