/**
 * Outbound gating by data-subject rights, applied to the canonical profile before it is mapped
 * out. Consent itself is gated by the mapping (`mapOutbound` sends `effectiveConsent`: never
 * "granted" while a restriction or the purpose's objection is active, nor after expiry). On
 * top of that, a restricted profile (Art. 18) is reduced to its consent and rights, so no other
 * personal data leaves the hub while processing is restricted. Pure.
 */
import { isRestricted } from '../profile/effective.js';
import type { Profile } from '../profile/schema.js';

export interface GatedProfile {
  /** The profile as systems may see it. */
  profile: Profile;
  /** Processing is restricted: only consent and rights may be sent, and only to known records. */
  restricted: boolean;
}

/** The profile reduced to what may be sent out. */
export function gateProfile(profile: Profile): GatedProfile {
  if (!isRestricted(profile)) return { restricted: false, profile };
  return { restricted: true, profile: { ...profile, identities: [], attributes: {}, subscriptions: {} } };
}
