/**
 * Reading members: one member by contact_id or by e-mail hash, and the translation of a member
 * into an `ExternalRecord` in the connector's vocabulary (`mapping.ts`).
 * https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
 */
import type { ExternalRecord } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import { subscriberHash, type MailchimpApi } from './api.js';
import {
  EMAIL_FIELD,
  fromMergeValue,
  interestField,
  LANGUAGE_FIELD,
  mailchimpDate,
  MEMBER_STATUS_FIELD,
  mergeField,
  permissionField,
  STATUS_FIELD,
  statusFieldValue,
  TAGS_FIELD,
} from './mapping.js';

/** A list member as the API answers it (the fields the connector reads; the rest is kept for export). */
export interface Member {
  id: string;
  contact_id: string;
  email_address: string;
  status: string;
  merge_fields?: Record<string, unknown>;
  interests?: Record<string, boolean>;
  marketing_permissions?: { marketing_permission_id: string; enabled: boolean; text?: string }[];
  language?: string;
  tags?: { id?: number; name: string }[];
  last_changed?: string;
  timestamp_opt?: string;
  timestamp_signup?: string;
  ip_opt?: string;
  [key: string]: unknown;
}

/** A lookup id a webhook gives: `hash.<md5 of the lower-cased e-mail>`. */
const HASH_REF = /^hash\.([0-9a-f]{32})$/;

/** The `read` id of an address: what `parse` emits for a webhook naming it. */
export function hashRef(email: string): string {
  return `hash.${subscriberHash(email)}`;
}

/** The path segment a read id stands for: a contact_id, or the hash of `hash.<md5>`. */
export function memberKey(id: string): string {
  return HASH_REF.exec(id)?.[1] ?? id;
}

/** A member as a record: keyed by contact_id, stamped with `last_changed`, "" values absent. */
export function toRecord(member: Member, now: () => number = Date.now): ExternalRecord {
  const fields: Record<string, Json> = {};
  fields[EMAIL_FIELD] = member.email_address;
  if (typeof member.language === 'string' && member.language !== '') fields[LANGUAGE_FIELD] = member.language;
  for (const [tag, value] of Object.entries(member.merge_fields ?? {})) {
    const v = fromMergeValue(value);
    if (v !== undefined) fields[mergeField(tag)] = v;
  }
  // An archived member's status is not reported: archiving forgets it (Mailchimp keeps no
  // previous status) and is neither a grant nor a withdrawal, so the hub keeps what it knew and
  // does not try to write a status over the archive (which only a consent change may attempt).
  // `subscribed` is a grant only with its opt-in evidence (`timestamp_opt` or `ip_opt`): a
  // marketer's import or add without it is no affirmative act of the person.
  const evidence = mailchimpDate(member.timestamp_opt) !== undefined || (typeof member.ip_opt === 'string' && member.ip_opt !== '');
  if (member.status !== 'archived')
    fields[STATUS_FIELD] = member.status === 'subscribed' && !evidence ? null : statusFieldValue(member.status);
  fields[MEMBER_STATUS_FIELD] = member.status;
  for (const [id, on] of Object.entries(member.interests ?? {})) if (typeof on === 'boolean') fields[interestField(id)] = on;
  const permissions: [string, boolean][] = [];
  for (const p of member.marketing_permissions ?? []) {
    if (typeof p.enabled !== 'boolean') continue;
    fields[permissionField(p.marketing_permission_id)] = p.enabled;
    permissions.push([permissionField(p.marketing_permission_id), p.enabled]);
  }
  if (Array.isArray(member.tags)) fields[TAGS_FIELD] = member.tags.map((t) => t.name);
  // Mailchimp's stamps have whole seconds. A withdrawal is dated at the latest instant of its
  // second (not after the read), a grant at the first: within that second, a choice made
  // elsewhere is taken for newer than a grant and older than a withdrawal (denied wins a tie).
  const readAt = now();
  const latest = (value: unknown): string | undefined => ofSecond(value, readAt, 'latest');
  const first = (value: unknown): string | undefined => ofSecond(value, readAt, 'first');
  const at =
    latest(member.last_changed) ?? latest(member.timestamp_opt) ?? latest(member.timestamp_signup) ?? new Date(readAt).toISOString();
  const fieldsAt: Record<string, string> = {};
  // The opt-in act is when a subscription was given; any other status dates from the last change.
  if (STATUS_FIELD in fields) fieldsAt[STATUS_FIELD] = fields[STATUS_FIELD] === 'subscribed' ? (first(member.timestamp_opt) ?? at) : at;
  // A permission granted dates no later than the opt-in (the member's last change may be any
  // edit since, ours included); one withdrawn, from the last change.
  const grantedAt = first(member.timestamp_opt) ?? first(member.last_changed) ?? at;
  for (const [field, enabled] of permissions) fieldsAt[field] = enabled ? grantedAt : at;
  return { externalId: member.contact_id, at, fields, ...(Object.keys(fieldsAt).length > 0 ? { fieldsAt } : {}) };
}

/**
 * A Mailchimp stamp as the first or the latest instant it can stand for. Mailchimp shows whole
 * seconds (`2026-11-30T10:00:05+00:00`): the change was made in that second, and not after the
 * hub read it (`readAt`); a stamp with milliseconds is taken as it is.
 */
function ofSecond(value: unknown, readAt: number, which: 'first' | 'latest'): string | undefined {
  const iso = mailchimpDate(value);
  if (iso === undefined || (typeof value === 'string' && /\.\d+/.test(value))) return iso;
  const start = Date.parse(iso);
  return which === 'first' ? iso : new Date(Math.max(start, Math.min(start + 999, readAt))).toISOString();
}

/**
 * One member by contact_id, e-mail hash or e-mail (the API takes each where the hash goes);
 * undefined when Mailchimp holds none (404).
 */
export async function getMember(api: MailchimpApi, key: string, signal?: AbortSignal): Promise<Member | undefined> {
  const res = await api.request<Member | undefined>(
    'GET',
    `/lists/${encodeURIComponent(api.config.listId)}/members/${encodeURIComponent(key)}`,
    {
      params: { exclude_fields: '_links' },
      signal,
      accept: [404],
    },
  );
  return res.status === 404 || !isMember(res.data) ? undefined : res.data;
}

function isMember(data: unknown): data is Member {
  if (data === null || typeof data !== 'object') return false;
  const m = data as Record<string, unknown>;
  return typeof m.contact_id === 'string' && typeof m.email_address === 'string' && typeof m.status === 'string';
}

/** Members named by contact_ids or `hash.<md5>` ids, each once (in parallel, under the key's in-flight ceiling). */
export async function readMembers(api: MailchimpApi, ids: readonly string[], signal?: AbortSignal): Promise<Member[]> {
  const keys = [...new Set(ids.map(memberKey))];
  const found = await Promise.all(keys.map((k) => getMember(api, k, signal)));
  const byContact = new Map<string, Member>();
  for (const m of found) if (m && !byContact.has(m.contact_id)) byContact.set(m.contact_id, m);
  return [...byContact.values()];
}
