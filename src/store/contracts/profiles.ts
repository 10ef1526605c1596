/**
 * The profiles aggregate: the profile document with its identities, the aliases of profiles
 * merged away, and the append-only consent ledger. `applyPatch` is the store's one
 * transactional entry point; it also writes the outbox, the source's shadow and the audit row.
 */
import type { Verdict } from '../../profile/explain.js';
import type { Change, ConsentState, Identity, Ignored, Json, Profile, ProfilePatch } from '../../profile/schema.js';

/** What a source reported alongside a patch, to be recorded as its shadow in the same transaction. */
export interface Observed {
  connector: string;
  externalId: string | null;
  /** External values the system holds now (merged over the existing shadow values). */
  values: Record<string, Json>;
  /** Fields the hub no longer knows the system's value of: removed from the shadow. */
  forget?: readonly string[];
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
 * One slot of one patch as the profile's history keeps it: what the source said, what the
 * profile held, who won and why (`profile/explain.ts`). Written by `applyPatch` in its
 * transaction, won and lost alike; kept while the profile lives, deleted with it.
 */
export interface HistoryEntry extends Verdict {
  id: string;
  profileId: string;
  patchId: string;
  /** Who made the change: the source, or e.g. `admin:<key id>` (as in the audit log). */
  actor: string;
  recordedAt: string;
}

/** Profiles, their identities, merges and consent ledger. */
export interface ProfileRepository {
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
  /**
   * Why each value won or lost, oldest first (following merges). With `limit`, the newest
   * `limit` entries (still oldest first).
   */
  profileHistory(profileId: string, options?: { limit?: number }): Promise<HistoryEntry[]>;

  /** Deletes the history entries recorded before `before` (ISO time; the retention `hub.sync.historyRetention`); answers how many. */
  purgeProfileHistory(before: string): Promise<number>;

  /** Deletes a profile's personal data (identities, attributes, ledger, history, shadows, outbox, and its row errors in sync runs). */
  deleteProfileData(profileId: string): Promise<void>;
  /**
   * Profiles no source changed since `before` (their last change, from any system or the
   * person), a page at a time in id order: ids after `after`, at most `limit`.
   */
  idleProfiles(query: { before: string; after?: string; limit: number }): Promise<IdleProfile[]>;
}

/** A profile with the time of its last change, as retention judges it. */
export interface IdleProfile {
  profile: Profile;
  updatedAt: string;
}
