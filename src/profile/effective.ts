/** What connected systems may be told about a person's consent, after rights override it. Pure. */
import { purposeRule } from './merge.js';
import { getOwn } from './order.js';
import type { ConsentStatus, Instant, MergePolicy, ObjectionKind, Profile } from './schema.js';

/** Why `explainConsent` returned what it did. */
export type EffectiveConsentReason =
  /** Processing is restricted (Art. 18): every purpose is denied. */
  | 'restricted'
  /** The objection named by the purpose (Art. 21/22) is active. */
  | 'objection'
  /** The slot's `expiresAt` is at or before `now`. */
  | 'expired'
  /** The person's latest winning choice. */
  | 'consent'
  /** Nothing is known for this purpose and channel. */
  | 'unknown';

export interface EffectiveConsent {
  status: ConsentStatus | undefined;
  reason: EffectiveConsentReason;
}

/** True while processing of the person's data is restricted (Art. 18). */
export function isRestricted(profile: Profile): boolean {
  return profile.rights.restricted?.value === true;
}

/** True while the person's objection of this kind (Art. 21/22) is in force. */
export function hasObjection(profile: Profile, kind: ObjectionKind): boolean {
  return profile.rights.objections[kind]?.value === true;
}

/**
 * The consent state systems may be told, with the reason. A restriction or the purpose's
 * objection wins over any recorded grant (the grant stays recorded in the profile: it is the
 * person's latest action, and it takes effect again once the restriction or objection is
 * lifted). Expiry is only checked when `now` is given, so this stays pure.
 */
export function explainConsent(
  profile: Profile,
  purpose: string,
  channel: string,
  policy: MergePolicy,
  now?: Instant | Date,
): EffectiveConsent {
  if (isRestricted(profile)) return { status: 'denied', reason: 'restricted' };
  const objection = purposeRule(policy, purpose)?.objection;
  if (objection !== undefined && hasObjection(profile, objection)) return { status: 'denied', reason: 'objection' };
  const channels = getOwn(profile.consents, purpose);
  const slot = channels && getOwn(channels, channel);
  if (slot === undefined) return { status: undefined, reason: 'unknown' };
  if (now !== undefined && slot.expiresAt !== undefined) {
    const nowMs = typeof now === 'string' ? Date.parse(now) : now.getTime();
    if (Date.parse(slot.expiresAt) <= nowMs) return { status: 'denied', reason: 'expired' };
  }
  return { status: slot.value, reason: 'consent' };
}

/**
 * What systems may be told for `purpose` on `channel`: `denied` while processing is
 * restricted or the purpose's objection is active, `denied` once `expiresAt` has passed
 * (only checked when `now` is given), else the slot's status, or `undefined` when unknown.
 */
export function effectiveConsent(
  profile: Profile,
  purpose: string,
  channel: string,
  policy: MergePolicy,
  now?: Instant | Date,
): ConsentStatus | undefined {
  return explainConsent(profile, purpose, channel, policy, now).status;
}
