/**
 * The Mailchimp connector's external vocabulary (record fields) and its mappings.
 *
 * - `email_address` (the identity e-mail), `language` (locale), `merge:<TAG>` (FNAME, LNAME,
 *   PHONE, an ADDRESS object, any tag);
 * - `status`: what the member status says about consent: `subscribed`; `unsubscribed` (for
 *   unsubscribed AND cleaned, both withdrawals); `null` for pending, transactional and archived
 *   (neither grants nor withdraws). The raw status is the read-only `member_status`;
 * - `interest:<id>` and `permission:<marketing_permission_id>`, booleans;
 * - `tags`: the names of the member's active tags.
 *
 * Interests, marketing permissions and the status consent come from the instance's config
 * (`derivedMailchimpMappings`, the connector's `derivedMappings`).
 */
import type { DerivedMapping } from '../../src/connector/define.js';
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';
import type { Json } from '../../src/profile/schema.js';
import type { MailchimpConfig } from './config.js';

/** Default entries: identity e-mail and phone, names, locale. */
export const mailchimpDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'email_address' },
  { identity: 'phone', external: 'merge:PHONE' },
  { field: 'firstName', external: 'merge:FNAME' },
  { field: 'lastName', external: 'merge:LNAME' },
  { field: 'locale', external: 'language' },
];

/** Mailchimp member statuses. `archived` exists only in answers. */
export type MemberStatus = 'subscribed' | 'unsubscribed' | 'cleaned' | 'pending' | 'transactional' | 'archived';

/** The `status` field value of a member status: a grant, a withdrawal, or neither (`null`). */
export function statusFieldValue(status: string): 'subscribed' | 'unsubscribed' | null {
  if (status === 'subscribed') return 'subscribed';
  if (status === 'unsubscribed' || status === 'cleaned') return 'unsubscribed';
  return null;
}

/** Whether a member status withdraws consent (unsubscribed, cleaned). */
export function withdraws(status: string): boolean {
  return statusFieldValue(status) === 'unsubscribed';
}

export const STATUS_FIELD = 'status';
export const MEMBER_STATUS_FIELD = 'member_status';
export const EMAIL_FIELD = 'email_address';
export const LANGUAGE_FIELD = 'language';
export const TAGS_FIELD = 'tags';

const MERGE = /^merge:(.+)$/;
const INTEREST = /^interest:(.+)$/;
const PERMISSION = /^permission:(.+)$/;

export const mergeField = (tag: string): string => `merge:${tag}`;
export const interestField = (id: string): string => `interest:${id}`;
export const permissionField = (id: string): string => `permission:${id}`;

/** The merge tag of a `merge:<TAG>` field. */
export const mergeTagOf = (field: string): string | undefined => MERGE.exec(field)?.[1];
/** The interest id of an `interest:<id>` field. */
export const interestIdOf = (field: string): string | undefined => INTEREST.exec(field)?.[1];
/** The marketing permission id of a `permission:<id>` field. */
export const permissionIdOf = (field: string): string | undefined => PERMISSION.exec(field)?.[1];

/**
 * The entries the instance's own keys imply: `statusConsent` <-> `status` (subscribed = granted,
 * unsubscribed = denied), each interest <-> its topic, each marketing permission <-> its
 * consent (enabled = granted), each at the key that names it.
 */
export function derivedMailchimpMappings(
  config: Pick<MailchimpConfig, 'statusConsent' | 'interests' | 'marketingPermissions'>,
): DerivedMapping[] {
  return [
    {
      path: ['statusConsent'],
      entry: {
        consent: config.statusConsent,
        external: STATUS_FIELD,
        transform: [{ type: 'map', values: { granted: 'subscribed', denied: 'unsubscribed' } }],
      },
    },
    ...config.interests.map((interest, i): DerivedMapping => ({
      path: ['interests', i, 'topic'],
      entry: { topic: interest.topic, external: interestField(interest.id) },
    })),
    ...config.marketingPermissions.map((permission, i): DerivedMapping => ({
      path: ['marketingPermissions', i, 'consent'],
      entry: { consent: permission.consent, external: permissionField(permission.id) },
    })),
  ];
}

/** A merge value as Mailchimp answers it, as a field value: "" (unset) is absent. */
export function fromMergeValue(value: unknown): Json | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'object' && !Array.isArray(value)) {
    // An address: unset when every part is empty.
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => typeof v === 'string' && v !== '');
    return entries.length === 0 ? undefined : (Object.fromEntries(entries) as Json);
  }
  return undefined;
}

/** A field value as a merge value to write: a cleared field is "". */
export function toMergeValue(value: Json): string | number | Record<string, Json> {
  if (value === null) return '';
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  return value;
}

/** A Mailchimp date ("" when unset, sometimes without a zone) as an ISO instant, or undefined. */
export function mailchimpDate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  // "YYYY-MM-DD HH:MM:SS" (webhooks, timestamp_opt) carries no zone: it is UTC.
  const normalized = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text) ? `${text.replace(' ', 'T')}Z` : text;
  const ms = Date.parse(normalized);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** An instant as Mailchimp's `YYYY-MM-DD HH:MM:SS` (UTC), for `timestamp_opt`. */
export function toMailchimpTimestamp(iso: string): string | undefined {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
