/**
 * The Segment connector's external vocabulary (record fields) and its mappings.
 *
 * - a trait name is a field: `email`, `firstName`, `lastName`, `phone` (Segment's reserved
 *   traits, https://segment.com/docs/connections/spec/identify/#traits) and any other trait;
 * - `consent:<Category>`: the category's value in `context.consent.categoryPreferences`, sent on
 *   every identify, changed or not (`contextFields`), never read back.
 *
 * Subscriptions and consents as boolean traits, and the consent categories, come from the
 * instance's config (`derivedSegmentMappings`, the connector's `derivedMappings`).
 */
import type { DerivedMapping } from '../../src/connector/define.js';
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';
import type { SegmentConfig } from './config.js';

/** Default entries: identity e-mail and phone, names (Segment's reserved traits). */
export const segmentDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'email' },
  { identity: 'phone', external: 'phone' },
  { field: 'firstName', external: 'firstName' },
  { field: 'lastName', external: 'lastName' },
];

export const EMAIL_TRAIT = 'email';
const CATEGORY = /^consent:(.+)$/;

/** The field of a consent category. */
export const categoryField = (category: string): string => `consent:${category}`;
/** The category of a `consent:<Category>` field, or undefined for a trait. */
export const categoryOf = (field: string): string | undefined => CATEGORY.exec(field)?.[1];

/**
 * The entries the instance's own keys imply: each subscription trait <-> its topic, each consent
 * trait <-> its consent (withdraw-only, since every tool of the workspace may set a trait, which is no
 * record of a person's choice), each consent category <- its consent (push only).
 */
export function derivedSegmentMappings(
  config: Pick<SegmentConfig, 'subscriptionTraits' | 'consentTraits' | 'consentCategories'>,
): DerivedMapping[] {
  return [
    ...config.subscriptionTraits.map((s, i): DerivedMapping => ({
      path: ['subscriptionTraits', i, 'topic'],
      entry: { topic: s.topic, external: s.trait },
    })),
    ...config.consentTraits.map((c, i): DerivedMapping => ({
      path: ['consentTraits', i, 'consent'],
      entry: { consent: c.consent, external: c.trait, withdrawOnly: true },
    })),
    ...config.consentCategories.map((c, i): DerivedMapping => ({
      path: ['consentCategories', i, 'consent'],
      entry: { consent: c.consent, external: categoryField(c.category), direction: 'push' },
    })),
  ];
}
