/** The living profile: canonical model, merge, diff and effective consent. Pure. */
export * from './schema.js';
export { emptyProfile, merge, mergeProfiles, effectiveAt, purposeRule } from './merge.js';
export type { PurposeRule } from './merge.js';
export { diff } from './diff.js';
export type { ChangeStamp } from './diff.js';
export { effectiveConsent, explainConsent, isRestricted, hasObjection } from './effective.js';
export type { EffectiveConsent, EffectiveConsentReason } from './effective.js';
export { primaryIdentity, isPrimaryIdentity, asLookupKeys, withIdentityStamps } from './identities.js';
export type { IdentitySlot } from './identities.js';
