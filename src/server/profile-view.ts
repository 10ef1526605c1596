/**
 * A profile with its primary identities and the consent every catalog purpose and channel
 * resolves to (shared by the API and the preference center).
 */
import type { Catalog } from '../config/schema.js';
import { explainConsent } from '../profile/effective.js';
import { primaryIdentity } from '../profile/identities.js';
import type { MergePolicy, Profile } from '../profile/schema.js';
import type { ProfileView } from './api/schemas.js';

export function effectiveConsents(profile: Profile, catalog: Catalog, policy: MergePolicy, now: Date): ProfileView['effectiveConsents'] {
  const out: ProfileView['effectiveConsents'] = {};
  for (const [purposeId, purpose] of Object.entries(catalog.purposes)) {
    const channels: ProfileView['effectiveConsents'][string] = {};
    for (const channel of purpose.channels) {
      const { status, reason } = explainConsent(profile, purposeId, channel, policy, now);
      channels[channel] = { status: status ?? null, reason };
    }
    out[purposeId] = channels;
  }
  return out;
}

/** The primary e-mail and phone: the newest of each kind, the ones pushed to systems. */
export function primaryIdentities(profile: Profile, policy: MergePolicy): ProfileView['primaryIdentities'] {
  return {
    email: primaryIdentity(profile.identities, { kind: 'email' }, policy) ?? null,
    phone: primaryIdentity(profile.identities, { kind: 'phone' }, policy) ?? null,
  };
}

export function profileView(profile: Profile, catalog: Catalog, policy: MergePolicy, now: Date): ProfileView {
  return {
    profile,
    primaryIdentities: primaryIdentities(profile, policy),
    effectiveConsents: effectiveConsents(profile, catalog, policy, now),
  };
}
