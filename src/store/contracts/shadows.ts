/**
 * The shadows aggregate: per profile × connector, what that system is known to hold (see
 * "Bidirectional without ping-pong"), and the push log of what the hub sent it.
 */
import type { Json } from '../../profile/schema.js';

/** What a source system is known to hold for one profile (see "Bidirectional without ping-pong"). */
export interface Shadow {
  profileId: string;
  connector: string;
  externalId: string | null;
  /** External field name -> value that system holds (what we last wrote to it or read from it). */
  values: Record<string, Json>;
  /**
   * When the hub last wrote or observed each field of `values` (ISO 8601, hub clock): a field
   * another field's refresh did not touch keeps its older time. Fields of a row written before
   * field times were kept take the row's `updatedAt`.
   */
  valuesAt: Record<string, string>;
  /** When the hub last pushed to this system for this profile. */
  lastPushedAt: string | null;
  /** When the row last changed (any field). */
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

/** Shadows and the push log. */
export interface ShadowRepository {
  getShadow(profileId: string, connector: string): Promise<Shadow | null>;
  /** The shadows of several profiles in one system, keyed by the id asked for (following merges). */
  getShadows(connector: string, profileIds: readonly string[]): Promise<Map<string, Shadow>>;
  shadowsByConnector(connector: string, options?: { limit?: number; after?: string }): Promise<Shadow[]>;
  /** How many records of the system the hub knows (shadows with an external id): what a full pull should read about. */
  countKnownRecords(connector: string): Promise<number>;
  shadowsByProfile(profileId: string): Promise<Shadow[]>;
  /** Merges `values` over the stored shadow (removing the `forget` fields) and sets the external id when given. */
  updateShadow(
    profileId: string,
    connector: string,
    update: { externalId?: string | null; values: Record<string, Json>; forget?: readonly string[]; pushedAt?: string },
  ): Promise<void>;

  /**
   * Records pushes a system accepted, all in one transaction: each entry's values are merged
   * over its shadow (with the external id and the push time) and appended to the push log.
   */
  recordPushes(entries: readonly PushLogEntry[]): Promise<void>;
  /** The profile's push log (what was sent where and when), oldest first. */
  pushHistory(profileId: string): Promise<PushLogEntry[]>;
}
