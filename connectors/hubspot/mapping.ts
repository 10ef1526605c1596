/**
 * The HubSpot connector's default mappings and its external vocabulary.
 *
 * External fields are HubSpot contact property names (`email`, `firstname`...), whose values
 * HubSpot holds as strings, plus one field per configured subscription type,
 * `subscription:<id>`, valued `SUBSCRIBED` / `UNSUBSCRIBED` (`null` while `NOT_SPECIFIED`).
 * Subscription type ids differ between accounts, so consent and topic mappings come from each
 * instance's `subscriptions` list: `derivedSubscriptionMappings()` is the connector's
 * `derivedMappings`, and the YAML need not repeat them under `mappings`.
 */
import type { DerivedMapping } from '../../src/connector/define.js';
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';
import type { Json, LegalBasis } from '../../src/profile/schema.js';
import type { HubSpotConfig, HubSpotLegalBasis, SubscriptionType } from './config.js';

/** Contact properties mapped by default (and always read). */
export const hubspotDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'email' },
  { identity: 'phone', external: 'phone' },
  { field: 'firstName', external: 'firstname' },
  { field: 'lastName', external: 'lastname' },
  { field: 'locale', external: 'hs_language' },
  { field: 'country', external: 'country' },
];

/**
 * Contact properties that mirror an opt-out (`hs_email_optout`, the global one, and
 * `hs_email_optout_<subscription id>`): "false" is what HubSpot holds for anyone who never
 * unsubscribed, so a consent mapped on them is withdraw-only.
 */
export const HUBSPOT_OPT_OUT_PROPERTIES: readonly (string | RegExp)[] = ['hs_email_optout', /^hs_email_optout_\d+$/];

export const DEFAULT_PROPERTIES: readonly string[] = ['email', 'phone', 'firstname', 'lastname', 'hs_language', 'country'];

export type StatusState = 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NOT_SPECIFIED';

const SUBSCRIPTION_FIELD = /^subscription:(\d+)$/;

/** The external field name of a subscription type's status. */
export function subscriptionField(id: number): string {
  return `subscription:${id}`;
}

/** The subscription type id of a field, or undefined for a contact property. */
export function subscriptionIdOf(field: string): number | undefined {
  const m = SUBSCRIPTION_FIELD.exec(field);
  return m ? Number(m[1]) : undefined;
}

/**
 * The mapping entries the configured subscription types imply (the connector's
 * `derivedMappings`): each type's status to its consent (`SUBSCRIBED` = granted,
 * `UNSUBSCRIBED` = denied) or topic (`SUBSCRIBED` = true), each at the key that names it
 * (`subscriptions[i].consent` or `.topic`).
 */
export function derivedSubscriptionMappings(config: Pick<HubSpotConfig, 'subscriptions'>): DerivedMapping[] {
  return config.subscriptions.map((s, i) =>
    s.consent !== undefined
      ? {
          path: ['subscriptions', i, 'consent'],
          entry: {
            consent: s.consent,
            external: subscriptionField(s.id),
            transform: [{ type: 'map', values: { granted: 'SUBSCRIBED', denied: 'UNSUBSCRIBED' } }],
          },
        }
      : {
          path: ['subscriptions', i, 'topic'],
          entry: {
            topic: s.topic ?? '',
            external: subscriptionField(s.id),
            transform: [{ type: 'map', values: { true: 'SUBSCRIBED', false: 'UNSUBSCRIBED' } }],
          },
        },
  );
}

/** The mapping entries for the configured subscription types (consent or topic <-> status), for a mapping built without a config file. */
export function subscriptionMappings(subscriptions: readonly SubscriptionType[]): MappingEntryInput[] {
  return derivedSubscriptionMappings({ subscriptions: [...subscriptions] }).map((d) => d.entry);
}

/** A status as an external field value: `NOT_SPECIFIED` is "no value". */
export function statusFieldValue(status: StatusState): Json {
  return status === 'NOT_SPECIFIED' ? null : status;
}

/** An external field value as the status to write (anything but the two states clears it). */
export function statusToWrite(value: Json): StatusState {
  return value === 'SUBSCRIBED' || value === 'UNSUBSCRIBED' ? value : 'NOT_SPECIFIED';
}

/** A field value as HubSpot property text: `null` (cleared) is the empty string. */
export function toPropertyValue(value: Json): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join(';');
  return JSON.stringify(value);
}

/** A HubSpot property value as a field value: unset and empty are `null`. */
export function fromPropertyValue(value: string | null | undefined): Json {
  return value === undefined || value === null || value === '' ? null : value;
}

/**
 * The canonical legal basis (GDPR Art. 6(1)) as HubSpot's legal basis. HubSpot has no basis
 * for legal obligation, vital interest or public task: those go as "legitimate interest
 * (other)" and the explanation names the real basis.
 */
export function toHubSpotLegalBasis(basis: LegalBasis): { legalBasis: HubSpotLegalBasis; article?: string } {
  switch (basis) {
    case 'consent':
      return { legalBasis: 'CONSENT_WITH_NOTICE' };
    case 'contract':
      return { legalBasis: 'PERFORMANCE_OF_CONTRACT' };
    case 'legitimate_interest':
      return { legalBasis: 'LEGITIMATE_INTEREST_OTHER' };
    case 'legal_obligation':
      return { legalBasis: 'LEGITIMATE_INTEREST_OTHER', article: 'GDPR Art. 6(1)(c) legal obligation' };
    case 'vital_interest':
      return { legalBasis: 'LEGITIMATE_INTEREST_OTHER', article: 'GDPR Art. 6(1)(d) vital interest' };
    case 'public_task':
      return { legalBasis: 'LEGITIMATE_INTEREST_OTHER', article: 'GDPR Art. 6(1)(e) public task' };
  }
}
