/**
 * The hub as a plan sees it: the store's profiles and shadows, read on demand and never written,
 * with what the planned sync would change kept in memory on top. Patches go through the same
 * pure merge as `applyPatch` (identities normalized, suppressed identities refused, the profiles
 * owning a patch's identities merged, `profile/merge.ts`), so a plan counts what a sync would do.
 */
import type { Identity, Json, MergePolicy, Profile, ProfilePatch } from '../../profile/schema.js';
import { emptyProfile, merge, mergeProfiles } from '../../profile/merge.js';
import { identityKey, normalizeIdentities } from '../../store/identity.js';
import { newId } from '../../store/ids.js';
import type { Observed, Shadow, Store } from '../../store/types.js';

/** The store reads a plan makes (read-only methods only). */
export type PlanStore = Pick<
  Store,
  | 'getCursor'
  | 'getProfile'
  | 'findProfile'
  | 'findProfileIdsByExternalIds'
  | 'getShadows'
  | 'shadowsByConnector'
  | 'hashIdentity'
  | 'suppressedAmong'
>;

/** What applying one patch in memory did to the hub. */
export type PlannedApply = 'created' | 'updated' | 'unchanged' | 'suppressed' | 'no_identity';

const pair = (connector: string, id: string): string => `${connector}\u0000${id}`;

export class PlanState {
  /** Profiles read or changed, by id (null: not in the store). */
  private readonly profiles = new Map<string, Profile | null>();
  /** identityKey -> owning profile id, for identities the plan gave a profile. */
  private readonly owners = new Map<string, string>();
  /** connector + external id -> profile id (null: unknown). */
  private readonly byExternal = new Map<string, string | null>();
  /** connector + profile id -> shadow (null: none). */
  private readonly shadows = new Map<string, Shadow | null>();
  /** Profiles merged into another by a planned patch. */
  private readonly mergedInto = new Map<string, string>();
  /** Profiles the planned sync creates or changes (they get outbox rows for every target). */
  readonly changed = new Set<string>();
  /** Per connector, profiles to push to it besides the changed ones (its values lost, or a linked record). */
  private readonly extra = new Map<string, Set<string>>();

  constructor(
    private readonly store: PlanStore,
    private readonly policy: MergePolicy,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  /** The profile a merged-away id now lives in. */
  current(id: string): string {
    let at = id;
    for (let next = this.mergedInto.get(at); next !== undefined; next = this.mergedInto.get(at)) at = next;
    return at;
  }

  async profile(id: string): Promise<Profile | null> {
    const pid = this.current(id);
    if (!this.profiles.has(pid)) this.profiles.set(pid, await this.store.getProfile(pid));
    return this.profiles.get(pid) ?? null;
  }

  /** The profile a system's record belongs to, by the record's id (its shadow or identity). */
  async byExternalId(connector: string, externalId: string): Promise<string | null> {
    const key = pair(connector, externalId);
    if (!this.byExternal.has(key)) {
      const [found = null] = await this.store.findProfileIdsByExternalIds(connector, [externalId]);
      this.byExternal.set(key, found);
    }
    const pid = this.byExternal.get(key) ?? null;
    return pid === null ? null : this.current(pid);
  }

  /** The profile owning an identity (normalized as the store keeps it). */
  async ownerOf(identity: Identity): Promise<string | null> {
    const key = identityKey(identity);
    const planned = this.owners.get(key);
    if (planned !== undefined) return this.current(planned);
    const found = await this.store.findProfile(identity);
    if (!found) return null;
    if (!this.profiles.has(found.id)) this.profiles.set(found.id, found);
    return this.current(found.id);
  }

  /** The first profile owning one of these identities (e-mail and phone; record ids are `byExternalId`'s). */
  async findByIdentities(identities: readonly Identity[]): Promise<string | null> {
    for (const identity of identities) {
      if (identity.kind === 'external') continue;
      const pid = await this.ownerOf(identity);
      if (pid !== null) return pid;
    }
    return null;
  }

  async shadow(connector: string, profileId: string): Promise<Shadow | null> {
    const pid = this.current(profileId);
    const key = pair(connector, pid);
    if (!this.shadows.has(key)) this.shadows.set(key, (await this.store.getShadows(connector, [pid])).get(pid) ?? null);
    return this.shadows.get(key) ?? null;
  }

  /** What the shadow learns (values merged over it, `forget` removed), as the store's shadow update does. */
  async learn(
    connector: string,
    profileId: string,
    update: { externalId?: string | null; values: Record<string, Json>; forget?: readonly string[] },
  ): Promise<void> {
    const pid = this.current(profileId);
    const before = await this.shadow(connector, pid);
    const now = this.now();
    const values: Record<string, Json> = { ...before?.values, ...update.values };
    const valuesAt: Record<string, string> = { ...before?.valuesAt };
    for (const field of Object.keys(update.values)) valuesAt[field] = now;
    for (const field of update.forget ?? []) {
      delete values[field];
      delete valuesAt[field];
    }
    const externalId = update.externalId ?? before?.externalId ?? null;
    this.shadows.set(pair(connector, pid), {
      profileId: pid,
      connector,
      externalId,
      values,
      valuesAt,
      lastPushedAt: before?.lastPushedAt ?? null,
      updatedAt: now,
    });
    if (externalId !== null) this.byExternal.set(pair(connector, externalId), pid);
  }

  /** Pushes to `connector` consider this profile too. */
  mark(connector: string, profileId: string): void {
    const set = this.extra.get(connector) ?? new Set<string>();
    set.add(this.current(profileId));
    this.extra.set(connector, set);
  }

  /** The profiles a push to `connector` would take: every changed one and those marked for it. */
  candidates(connector: string): string[] {
    const ids = new Set<string>();
    for (const id of [...this.changed, ...(this.extra.get(connector) ?? [])]) ids.add(this.current(id));
    return [...ids];
  }

  /** Whether any of the profile's identities is on the suppression list (being erased). */
  async suppressed(identities: readonly Identity[]): Promise<boolean> {
    if (identities.length === 0) return false;
    return (await this.store.suppressedAmong(identities.map((i) => this.store.hashIdentity(i)))).size > 0;
  }

  /** Applies a patch in memory, as `applyPatch` would in the store, with the values the source showed. */
  async apply(patch: ProfilePatch, observed?: Observed): Promise<PlannedApply> {
    const { identities } = normalizeIdentities(patch.identities, { defaultSystem: patch.source });
    if (identities.length === 0) return 'no_identity';
    if (await this.suppressed(identities)) return 'suppressed';
    const owners = new Set<string>();
    for (const identity of identities) {
      const pid = await this.ownerOf(identity);
      if (pid !== null) owners.add(pid);
    }
    // A record known by its shadow before its id is in the identity graph.
    if (observed?.externalId) {
      const pid = await this.byExternalId(observed.connector, observed.externalId);
      if (pid !== null) owners.add(pid);
    }
    // uuid v7 ids sort by creation, as the store picks the oldest profile as the survivor.
    const [survivor, ...absorbed] = [...owners].sort();
    const created = survivor === undefined;
    let base = (survivor === undefined ? null : await this.profile(survivor)) ?? emptyProfile(newId());
    for (const other of absorbed) {
      const profile = await this.profile(other);
      if (profile) base = mergeProfiles(base, profile, this.policy).profile;
      this.mergedInto.set(other, base.id);
      this.changed.delete(other);
    }
    const result = merge(base, { ...patch, identities }, this.policy);
    const changed = created || absorbed.length > 0 || result.changes.length > 0;
    if (changed) {
      this.profiles.set(base.id, { ...result.profile, id: base.id });
      this.changed.add(base.id);
      for (const identity of identities) this.owners.set(identityKey(identity), base.id);
    }
    if (observed) {
      await this.learn(observed.connector, base.id, {
        externalId: observed.externalId,
        values: observed.values,
        ...(observed.forget ? { forget: observed.forget } : {}),
      });
    }
    return created ? 'created' : changed ? 'updated' : 'unchanged';
  }
}
