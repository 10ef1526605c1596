/**
 * The outbox aggregate: a pending notification "profile changed" for one target connector.
 * There is at most one pending row per profile × connector: a newer change updates the row
 * (new id, newer version, lease cleared), so acking an id claimed before that change deletes
 * nothing and the newer change is claimed again. `applyPatch` writes the rows.
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

/** The outbox, as the relay and the pushes work it. */
export interface OutboxRepository {
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
}
