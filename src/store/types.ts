/**
 * The store's public contract. The store (SQLite or PostgreSQL through Kysely) is the
 * source of truth; Redis only holds work in flight. `sync/`, `privacy/` and `server/`
 * depend on this interface, never on a dialect.
 */
import type { CountryCode } from 'libphonenumber-js';
import type { Logger } from 'pino';
import type { Change, ConsentState, Identity, Ignored, Json, MergePolicy, Profile, ProfilePatch } from '../profile/schema.js';

/** What a source system is known to hold for one profile (see "Bidirectional without ping-pong"). */
export interface Shadow {
  profileId: string;
  connector: string;
  externalId: string | null;
  /** External field name -> value that system holds (what we last wrote to it or read from it). */
  values: Record<string, Json>;
  /** When the hub last pushed to this system for this profile. */
  lastPushedAt: string | null;
  updatedAt: string;
}

/**
 * One delivery to a connected system, as the push log keeps it: what was sent where and
 * when. The log is personal data like the profile: `deleteProfileData` removes it.
 */
export interface PushLogEntry {
  profileId: string;
  connector: string;
  /** The system's id for the record, as it answered the push. */
  externalId: string | null;
  /** External field name -> value sent. */
  values: Record<string, Json>;
  pushedAt: string;
}

/** What a source reported alongside a patch, to be recorded as its shadow in the same transaction. */
export interface Observed {
  connector: string;
  externalId: string | null;
  /** External values the system holds now (merged over the existing shadow values). */
  values: Record<string, Json>;
}

export interface ApplyOptions {
  /** Record what the source holds (its shadow) atomically with the merge. */
  observed?: Observed;
  /** Who made the change, for the audit log (defaults to the patch source). */
  actor?: string;
}

/** The outcome of `applyPatch`. Expected outcomes are values, not exceptions. */
export type ApplyResult =
  | {
      status: 'applied';
      profileId: string;
      version: number;
      changes: Change[];
      ignored: Ignored[];
      /** Connectors an outbox row was written for. */
      outbox: string[];
      /** Profiles merged into `profileId` because the patch linked their identities. */
      mergedProfileIds: string[];
      created: boolean;
    }
  /** The merge changed nothing (duplicate or stale patch); no outbox rows, no version bump. */
  | { status: 'unchanged'; profileId: string; version: number; ignored: Ignored[]; created: false }
  /** An identity of the patch is on the suppression list: nothing was written. */
  | { status: 'suppressed'; reason: 'suppressed_identity' }
  /** The patch carries no identity that resolves or could create a profile. */
  | { status: 'no_identity' };

/** One consent change as the append-only ledger holds it. */
export interface LedgerEntry {
  id: string;
  profileId: string;
  purpose: string;
  channel: string;
  state: ConsentState;
  /** The previous status, if any. */
  previous: 'granted' | 'denied' | null;
  /** The patch that made the change. */
  patchId: string;
  recordedAt: string;
  /** False when the change was recorded but did not win (e.g. not a consent authority). */
  accepted: boolean;
}

/**
 * A pending notification "profile changed" for one target connector. There is at most
 * one pending row per profile × connector: a newer change updates the row (new id, newer
 * version, lease cleared), so acking an id claimed before that change deletes nothing and
 * the newer change is claimed again.
 */
/** A profile whose push to one connector finished, at the profile version the push read. */
export interface OutboxSettlement {
  profileId: string;
  version: number | null;
}

export interface OutboxRow {
  id: string;
  profileId: string;
  connector: string;
  profileVersion: number;
  createdAt: string;
  /** The lease this claim holds (`markRelayed` only marks rows still under it). */
  leasedUntil: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  profileId: string | null;
  /** Structured detail; never contains e-mail addresses, phone numbers or tokens in clear. */
  detail: Record<string, Json>;
}

export type DsrKind = 'erase' | 'export' | 'rectify' | 'restrict' | 'unrestrict' | 'object' | 'withdraw_objection';
export type DsrStatus = 'received' | 'in_progress' | 'completed' | 'failed';

export interface DsrSystemStatus {
  connector: string;
  status: 'pending' | 'in_progress' | 'completed' | 'failed' | 'not_applicable';
  attempts: number;
  error: string | null;
  updatedAt: string;
}

export interface DataSubjectRequest {
  id: string;
  kind: DsrKind;
  status: DsrStatus;
  profileId: string | null;
  /** Keyed hashes of the subject's identities (never the identities in clear). */
  identityHashes: string[];
  receivedAt: string;
  dueAt: string;
  extendedTo: string | null;
  subjectToldAt: string | null;
  completedAt: string | null;
  detail: Record<string, Json>;
  systems: DsrSystemStatus[];
}

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

/** The durable store. All methods are safe to call from several processes at once. */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs pending forward-only migrations; returns the versions applied. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;

  /**
   * The one transactional entry point: resolve (or create, or merge) the profile from the
   * patch's identities, check suppression, merge with compare-and-swap, append ledger rows,
   * write outbox rows and the audit row. All of it or none of it.
   */
  applyPatch(patch: ProfilePatch, options?: ApplyOptions): Promise<ApplyResult>;
  /** Applies several patches in one transaction, in order. */
  applyPatches(items: { patch: ProfilePatch; options?: ApplyOptions }[]): Promise<ApplyResult[]>;

  /** The profile, following merges: the id of a profile merged away returns the profile that absorbed it. */
  getProfile(profileId: string): Promise<Profile | null>;
  /**
   * Several profiles in one read, following merges: keyed by the id asked for (an id merged
   * away maps to the profile that absorbed it); ids without a profile are absent.
   */
  getProfiles(profileIds: readonly string[]): Promise<Map<string, Profile>>;
  findProfile(identity: Identity): Promise<Profile | null>;
  findProfileIdByExternalId(connector: string, externalId: string): Promise<string | null>;
  /** `findProfileIdByExternalId` for several ids of one system in one read, in the order asked. */
  findProfileIdsByExternalIds(connector: string, externalIds: readonly string[]): Promise<(string | null)[]>;
  consentHistory(profileId: string): Promise<LedgerEntry[]>;

  getShadow(profileId: string, connector: string): Promise<Shadow | null>;
  /** The shadows of several profiles in one system, keyed by the id asked for (following merges). */
  getShadows(connector: string, profileIds: readonly string[]): Promise<Map<string, Shadow>>;
  shadowsByConnector(connector: string, options?: { limit?: number; after?: string }): Promise<Shadow[]>;
  shadowsByProfile(profileId: string): Promise<Shadow[]>;
  /** Merges `values` over the stored shadow and sets the external id when given. */
  updateShadow(
    profileId: string,
    connector: string,
    update: { externalId?: string | null; values: Record<string, Json>; pushedAt?: string },
  ): Promise<void>;

  /**
   * Records pushes a system accepted, all in one transaction: each entry's values are merged
   * over its shadow (with the external id and the push time) and appended to the push log.
   */
  recordPushes(entries: readonly PushLogEntry[]): Promise<void>;
  /** The profile's push log (what was sent where and when), oldest first. */
  pushHistory(profileId: string): Promise<PushLogEntry[]>;

  /**
   * Claims up to `limit` outbox rows not relayed yet; safe with several relays at once. Claimed
   * rows are hidden for `leaseMs`: unless marked relayed by then, they are claimed again.
   */
  claimOutbox(limit: number, leaseMs?: number): Promise<OutboxRow[]>;
  /**
   * Marks claimed rows relayed (their profiles are in the dirty sets): they stay, hidden from
   * the relay, until a push settles them (`settleOutbox`) or `redriveOutbox` hands them back.
   * Only rows still under the claim's lease are marked: a row changed since it was claimed (new
   * id), claimed again after the lease expired, or handed back by `redriveOutbox` meanwhile
   * (its dirty mark may have gone to the Redis that was lost) is relayed again instead.
   */
  markRelayed(ids: readonly string[], leasedUntil: string): Promise<void>;
  /** Deletes outbox rows by id (rows for connectors that have no push queue). */
  ackOutbox(ids: readonly string[]): Promise<void>;
  /**
   * Deletes the rows of `connector` that a finished push covered: delivered, nothing left to
   * send, or dead-lettered at `version` (rows of newer versions stay). `version: null` covers
   * every version (the profile is gone). One statement per call.
   */
  settleOutbox(connector: string, settled: readonly OutboxSettlement[]): Promise<void>;
  /**
   * Makes every relayed or claimed row claimable again, after the work in Redis was lost (Redis
   * came back empty); returns how many rows were handed back.
   */
  redriveOutbox(): Promise<number>;

  getCursor(connector: string): Promise<Json | null>;
  setCursor(connector: string, cursor: Json): Promise<void>;

  /** Keyed hash (HMAC-SHA256 with `hashKey`) of a normalized identity. */
  hashIdentity(identity: Identity): string;
  suppress(hashes: readonly string[], reason: string): Promise<void>;
  isSuppressed(hashes: readonly string[]): Promise<boolean>;
  /** Which of `hashes` are on the suppression list. */
  suppressedAmong(hashes: readonly string[]): Promise<Set<string>>;

  createDsr(request: Omit<DataSubjectRequest, 'systems'> & { systems: string[] }): Promise<DataSubjectRequest>;
  getDsr(id: string): Promise<DataSubjectRequest | null>;
  updateDsr(id: string, update: Partial<Pick<DataSubjectRequest, 'status' | 'extendedTo' | 'subjectToldAt' | 'completedAt' | 'detail' | 'profileId'>>): Promise<void>;
  updateDsrSystem(id: string, connector: string, update: Partial<Omit<DsrSystemStatus, 'connector' | 'updatedAt'>>): Promise<void>;
  /** Oldest first; `overdueAt`: open and past the (extended) deadline at that instant; `profileId`, `kind`: only those. */
  listDsr(filter?: { status?: DsrStatus; overdueAt?: string; profileId?: string; kind?: DsrKind }): Promise<DataSubjectRequest[]>;

  appendAudit(entry: Omit<AuditEntry, 'id' | 'at'> & { at?: string }): Promise<void>;
  /** Newest first; `limit` defaults to 100. */
  listAudit(filter?: { profileId?: string; limit?: number }): Promise<AuditEntry[]>;

  /** Deletes a profile's personal data (identities, attributes, ledger, shadows, outbox). */
  deleteProfileData(profileId: string): Promise<void>;
}
