/**
 * A profile's identities: which one of a kind is primary, and how identities read from an
 * older profile or re-sent as plain lookup keys are stamped. Pure.
 *
 * Every e-mail, phone and external id a person ever had stays on the profile, so records
 * that still name an old one resolve to the person. The primary one of a kind is the one
 * with the greatest stamp (`compareIdentityStamps`: last writer wins, like attributes); it is
 * the one pushed to systems and shown first.
 */
import { compareIdentityStamps } from './order.js';
import type { Identity, MergePolicy, PatchIdentity, ProfileIdentity } from './schema.js';
import { UNSTAMPED } from './schema.js';

/** A kind of identity, and for external ids the system whose record id is meant. */
export type IdentitySlot = { kind: 'email' | 'phone' } | { kind: 'external'; system: string };

/** The primary identity of a kind (of a system, for external ids), or `undefined` when the profile has none. */
export function primaryIdentity(
  identities: readonly ProfileIdentity[],
  slot: IdentitySlot,
  policy: MergePolicy,
): ProfileIdentity | undefined {
  let primary: ProfileIdentity | undefined;
  for (const identity of identities) {
    if (identity.kind !== slot.kind) continue;
    if (slot.kind === 'external' && identity.system !== slot.system) continue;
    if (primary === undefined || compareIdentityStamps(identity, primary, policy) > 0) primary = identity;
  }
  return primary;
}

/** Whether `identity` is the primary one of its kind (and system) among `identities`. */
export function isPrimaryIdentity(identity: ProfileIdentity, identities: readonly ProfileIdentity[], policy: MergePolicy): boolean {
  const slot: IdentitySlot = identity.kind === 'external' ? { kind: 'external', system: identity.system ?? '' } : { kind: identity.kind };
  return primaryIdentity(identities, slot, policy) === identity;
}

/**
 * A profile's identities as lookup keys for a patch: they find the person but claim nothing
 * about being newest (hub-made patches name them only to resolve the profile).
 */
export function asLookupKeys(identities: readonly Identity[]): PatchIdentity[] {
  return identities.map((identity) =>
    identity.system === undefined
      ? { kind: identity.kind, value: identity.value, lookup: true }
      : { kind: identity.kind, value: identity.value, system: identity.system, lookup: true },
  );
}

/**
 * Identities as stored, with `UNSTAMPED` filled in where a stamp is missing (profiles written
 * before identities carried stamps). Returns the array itself when nothing is missing.
 */
export function withIdentityStamps(identities: readonly (Identity & { at?: string; source?: string })[]): ProfileIdentity[] {
  if (identities.every((identity) => identity.at !== undefined && identity.source !== undefined)) {
    return identities as ProfileIdentity[];
  }
  return identities.map((identity) => ({ ...identity, at: identity.at ?? UNSTAMPED.at, source: identity.source ?? UNSTAMPED.source }));
}
