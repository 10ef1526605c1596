/**
 * The store's public contract. The store (SQLite or PostgreSQL through Kysely) is the
 * source of truth; Redis only holds work in flight. `sync/`, `privacy/` and `server/`
 * depend on this interface, never on a dialect.
 *
 * `Store` is a facade over one repository per aggregate (`contracts/`): profiles (with
 * identities, merges and the consent ledger), shadows (with the push log), outbox, cursors,
 * suppression, data-subject requests, audit, outbound webhooks, requester verifications and sync runs. A caller that needs one aggregate may take
 * its interface instead of the whole store.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { Logger } from 'pino';
import type { MergePolicy } from '../profile/schema.js';
import type { AuditRepository } from './contracts/audit.js';
import type { CursorRepository } from './contracts/cursors.js';
import type { DsrRepository } from './contracts/dsr.js';
import type { OutboxRepository } from './contracts/outbox.js';
import type { ProfileRepository } from './contracts/profiles.js';
import type { RunRepository } from './contracts/runs.js';
import type { ShadowRepository } from './contracts/shadows.js';
import type { SuppressionRepository } from './contracts/suppression.js';
import type { RequesterVerificationRepository } from './contracts/verifications.js';
import type { WebhooksOutRepository } from './contracts/webhooks-out.js';

export type * from './contracts/audit.js';
export type * from './contracts/cursors.js';
export type * from './contracts/dsr.js';
export type * from './contracts/outbox.js';
export type * from './contracts/profiles.js';
export type * from './contracts/runs.js';
export type * from './contracts/shadows.js';
export type * from './contracts/suppression.js';
export type * from './contracts/verifications.js';
export type * from './contracts/webhooks-out.js';

export interface StoreOptions {
  /** `sqlite:./data/concord.db`, `sqlite::memory:` or `postgres://...`. */
  url: string;
  policy: MergePolicy;
  /** Connectors that receive outbox rows for every change (push-capable instances). */
  outboxTargets: readonly string[];
  /** Server secret for keyed identity hashes (suppression list, DSR proof). */
  hashKey: string;
  /**
   * ISO 3166-1 alpha-2 country used to read phone numbers written without an
   * international prefix (e.g. `DE` reads `030 1234567` as `+49301234567`). Without it,
   * only international numbers (`+...`) are accepted; others are dropped, not guessed.
   */
  defaultPhoneCountry?: CountryCode;
  /** Run pending migrations when the store opens (default true). */
  autoMigrate?: boolean;
  /** SQLite: how long a writer waits for the write lock, in ms (default 10000). */
  busyTimeoutMs?: number;
  /** PostgreSQL: maximum pool connections (default 10). */
  poolSize?: number;
  /** Where the store logs (never identities in clear). Defaults to a silent logger. */
  logger?: Logger;
  /** Test-only hooks to inject failures inside the transaction. Never set in production. */
  faultInjection?: FaultInjection;
}

/** Test-only failure points inside `applyPatch`'s transaction. */
export interface FaultInjection {
  /** Called after every write of a patch and before commit; throwing rolls everything back. */
  beforeCommit?: (context: { patchId: string; profileId: string }) => void | Promise<void>;
}

/**
 * The durable store: the facade over the repositories of its aggregates. All methods are
 * safe to call from several processes at once.
 */
export interface Store
  extends
    ProfileRepository,
    ShadowRepository,
    OutboxRepository,
    CursorRepository,
    SuppressionRepository,
    DsrRepository,
    AuditRepository,
    WebhooksOutRepository,
    RequesterVerificationRepository,
    RunRepository {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs pending forward-only migrations; returns the versions applied. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}
