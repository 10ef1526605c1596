/**
 * The Salesforce connector's default mappings and its external vocabulary.
 *
 * External field names are, for the person's own record (Contact or Lead), its field API names
 * (`Email`, `FirstName`, `HasOptedOutOfEmail`...); for its Individual, `Individual.<Field>`
 * (`Individual.HasOptedOutProcessing`...); for a ContactPointTypeConsent,
 * `ContactPointTypeConsent:<ContactPointType>:<DataUsePurpose Name>`, valued `OptIn` or `OptOut`
 * (Seen and NotSeen are left out: no choice was made). Consent mappings depend on the org:
 * those of the opt-out flags come from the instance's `channelFlags` (`derivedFlagMappings()`
 * is the connector's `derivedMappings`), those of the ContactPointTypeConsents are written in
 * the YAML `mappings`; `salesforceMappings()` writes both from a config, for code that builds
 * a mapping without a config file.
 */
import type { DerivedMapping } from '../../src/connector/define.js';
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';
import type { Json } from '../../src/profile/schema.js';
import type { ContactPointType, SalesforceConfig } from './config.js';

export const INDIVIDUAL_PREFIX = 'Individual.';
export const CONSENT_PREFIX = 'ContactPointTypeConsent:';

/** Individual fields the connector reads and writes (the rights of the person). */
export const INDIVIDUAL_FIELDS = [
  'HasOptedOutProcessing',
  'HasOptedOutProfiling',
  'HasOptedOutSolicit',
  'HasOptedOutTracking',
  'ShouldForget',
] as const;

/** The opt-out flags on Contact and Lead. */
export const CHANNEL_FLAGS = ['HasOptedOutOfEmail', 'DoNotCall', 'HasOptedOutOfFax'] as const;

/** Fields of the person's record always read. */
export const DEFAULT_FIELDS: readonly string[] = ['Email', 'FirstName', 'LastName', 'Phone', ...CHANNEL_FLAGS];

/** Defaults: identity and name fields, and the rights the Individual carries. */
export const salesforceDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'Email' },
  { identity: 'phone', external: 'Phone' },
  { field: 'firstName', external: 'FirstName' },
  { field: 'lastName', external: 'LastName' },
  { right: 'restricted', external: 'Individual.HasOptedOutProcessing' },
  { right: 'objections.profiling', external: 'Individual.HasOptedOutProfiling' },
  { right: 'objections.directMarketing', external: 'Individual.HasOptedOutSolicit' },
];

/** The external field of one ContactPointTypeConsent. */
export function consentField(type: ContactPointType | string, purposeName: string): string {
  return `${CONSENT_PREFIX}${type}:${purposeName}`;
}

/** The parts of a consent field, or undefined for any other field. */
export function parseConsentField(field: string): { type: string; purposeName: string } | undefined {
  if (!field.startsWith(CONSENT_PREFIX)) return undefined;
  const rest = field.slice(CONSENT_PREFIX.length);
  const colon = rest.indexOf(':');
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { type: rest.slice(0, colon), purposeName: rest.slice(colon + 1) };
}

/** The Individual field an external field names, or undefined. */
export function individualFieldOf(field: string): string | undefined {
  return field.startsWith(INDIVIDUAL_PREFIX) ? field.slice(INDIVIDUAL_PREFIX.length) : undefined;
}

/**
 * The mapping entries the opt-out flags imply (the connector's `derivedMappings`): each flag in
 * `channelFlags` to its consent, inverted (opted out = denied) and withdraw-only, since "not
 * opted out" is also Salesforce's default and grants nothing; each at `channelFlags.<flag>`.
 */
export function derivedFlagMappings(config: Pick<SalesforceConfig, 'channelFlags'>): DerivedMapping[] {
  const out: DerivedMapping[] = [];
  for (const [flag, consent] of Object.entries(config.channelFlags)) {
    if (consent)
      out.push({ path: ['channelFlags', flag], entry: { consent, external: flag, transform: [{ type: 'invert' }], withdrawOnly: true } });
  }
  return out;
}

/**
 * The mapping entries for the configured consents, for a mapping built without a config file:
 * the opt-out flags' (`derivedFlagMappings`), and each (purpose, channel) pair of
 * `dataUsePurposes` and `contactPointTypes` to its ContactPointTypeConsent (`OptIn` = granted,
 * `OptOut` = denied): the positive evidence a grant needs. A config file writes the latter
 * itself under `mappings`, for the pairs the catalog has (they are not derived: not every
 * purpose applies to every channel).
 */
export function salesforceMappings(
  config: Pick<SalesforceConfig, 'channelFlags' | 'dataUsePurposes' | 'contactPointTypes'>,
): MappingEntryInput[] {
  const out: MappingEntryInput[] = derivedFlagMappings(config).map((d) => d.entry);
  for (const [purpose, purposeName] of Object.entries(config.dataUsePurposes)) {
    for (const [channel, type] of Object.entries(config.contactPointTypes)) {
      out.push({
        consent: `${purpose}.${channel}`,
        external: consentField(type, purposeName),
        transform: [{ type: 'map', values: { granted: 'OptIn', denied: 'OptOut' } }],
      });
    }
  }
  return out;
}

/**
 * Why Concord sends `OptOut` over a consent the person did not deny: a restriction (Art. 18) or
 * an objection (Art. 21/22) is in force, or the consent has expired. Such a write is not a
 * choice of the person, and its CaptureSource says so (`overrideSource`).
 */
export type ConsentOverride = 'restriction' | 'objection' | 'expiry';

const OVERRIDE_LABELS: Record<ConsentOverride, string> = {
  restriction: 'restriction in force',
  objection: 'objection in force',
  expiry: 'consent expired',
};

/** The CaptureSource of an `OptOut` Concord sends because of `override`. */
export function overrideSource(captureSource: string, override: ConsentOverride): string {
  return `${captureSource} (${OVERRIDE_LABELS[override]})`.slice(0, 255);
}

/** The override a CaptureSource written by this instance names, or undefined (a choice, or someone else's). */
export function overrideOf(value: unknown, captureSource: string): ConsentOverride | undefined {
  if (typeof value !== 'string') return undefined;
  return (Object.keys(OVERRIDE_LABELS) as ConsentOverride[]).find((o) => overrideSource(captureSource, o) === value);
}

/** A Salesforce date-time (`2026-01-15T09:30:00.000+0000`) as epoch ms, or NaN. */
export function parseSalesforceDate(value: unknown): number {
  if (typeof value !== 'string' || value === '') return Number.NaN;
  return Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

/** A SOQL date-time literal, floored to the second (SOQL literals carry no fraction). */
export function soqlDateTime(ms: number): string {
  return new Date(Math.floor(Math.max(0, ms) / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** A SOQL string literal. */
export function soqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A field value as read from Salesforce (REST JSON or Bulk CSV text) as a record value. */
export function fieldValue(value: unknown): Json | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

/** A Bulk CSV value for a boolean field (`true`/`false` text) as a boolean. */
export function csvBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return undefined;
}
