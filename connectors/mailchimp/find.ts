/**
 * `find` in Mailchimp, in the configured audience. Mailchimp has no batch lookup: each e-mail is
 * one `GET .../members/{subscriber_hash}`, and each contact_id not already found by its e-mail
 * one `GET .../members/{contact_id}`, in parallel under the key's in-flight ceiling. Phones are
 * not searchable through the API: when the instance maps a merge field to the phone identity
 * (`merge:PHONE` by default), a find with phones reads the audience's members a page of 1,000
 * at a time (only their contact_id and that merge field) and compares the numbers, as stored
 * (spaces, dashes, dots and parentheses aside). Without such a field, a phone finds nothing.
 * https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
 * https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
 */
import type { FindQuery, FoundRecord } from '../../src/connector/define.js';
import { emailKey, FindHits, findIdentities, phoneKey } from '../../src/connector/kit/index.js';
import { subscriberHash, type MailchimpApi } from './api.js';
import { mergeTagOf } from './mapping.js';
import { getMember } from './read.js';

/** Members per page of the phone scan (Mailchimp's largest `count`). */
const SCAN_PAGE = 1000;

interface ScanPage {
  members?: { contact_id?: string; merge_fields?: Record<string, unknown> }[];
  total_items?: number;
}

/**
 * The merge tag holding the phone identity: the field the instance's mapping sends
 * `identity:phone` to, when the engine says (`ConnectorContext.fieldTargets`), else the default
 * mapping's `PHONE`.
 */
export function phoneMergeTag(fieldTargets: Readonly<Record<string, string>> | undefined): string | undefined {
  if (fieldTargets === undefined) return 'PHONE';
  const field = Object.entries(fieldTargets).find(([, target]) => target === 'identity:phone')?.[0];
  return field === undefined ? undefined : mergeTagOf(field);
}

/** One answer per query, in input order (see `ConnectorInstance.find`). */
export async function findMembers(
  api: MailchimpApi,
  phoneTag: string | undefined,
  queries: readonly FindQuery[],
  signal: AbortSignal,
): Promise<FoundRecord[][]> {
  const { emails, phones, externalIds } = findIdentities(queries);
  const hits = new FindHits();
  const byEmail = await Promise.all(emails.map((e) => getMember(api, subscriberHash(e), signal)));
  const seen = new Set<string>();
  byEmail.forEach((m, i) => {
    if (!m) return;
    seen.add(m.contact_id);
    if (emailKey(m.email_address) === emails[i]) hits.add('email', m.email_address, m.contact_id);
  });
  const unread = externalIds.filter((id) => !seen.has(id));
  const byId = await Promise.all(unread.map((id) => getMember(api, id, signal)));
  byId.forEach((m, i) => {
    const id = unread[i];
    if (m && id !== undefined && m.contact_id === id) hits.add('externalId', id, m.contact_id);
  });
  for (const id of externalIds) if (seen.has(id)) hits.add('externalId', id, id);
  if (phones.length > 0 && phoneTag !== undefined) {
    const wanted = new Set(phones);
    await scanPhones(api, phoneTag, signal, (contactId, phone) => {
      if (wanted.has(phoneKey(phone))) hits.add('phone', phone, contactId);
    });
  }
  return hits.answer(queries);
}

/** Every member's phone merge field, a page at a time. */
async function scanPhones(
  api: MailchimpApi,
  tag: string,
  signal: AbortSignal,
  each: (contactId: string, phone: string) => void,
): Promise<void> {
  for (let offset = 0; ; offset += SCAN_PAGE) {
    const res = await api.request<ScanPage>('GET', `/lists/${encodeURIComponent(api.config.listId)}/members`, {
      params: {
        count: String(SCAN_PAGE),
        offset: String(offset),
        fields: `members.contact_id,members.merge_fields.${tag},total_items`,
      },
      signal,
    });
    const members = res.data.members ?? [];
    for (const m of members) {
      const phone = m.merge_fields?.[tag];
      if (typeof m.contact_id === 'string' && typeof phone === 'string' && phone !== '') each(m.contact_id, phone);
    }
    if (members.length < SCAN_PAGE || offset + SCAN_PAGE >= (res.data.total_items ?? 0)) return;
  }
}
