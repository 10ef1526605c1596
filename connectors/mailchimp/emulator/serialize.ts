/**
 * The JSON Mailchimp answers: members (unset dates and IPs as "", times as ISO 8601 with a
 * `+00:00` offset, as real responses carry them), lists, merge fields, interests, webhooks.
 * https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
 */
import { emailHash, type StoredList, type StoredMember, type StoredWebhook } from './state.js';

/** `2026-12-04T18:30:00+00:00`, or "" for an unset time. */
export function mailchimpTime(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function memberJson(list: StoredList, m: StoredMember): Record<string, unknown> {
  const id = emailHash(m.email);
  const mergeFields = Object.fromEntries(list.seed.mergeFields.map((f) => [f.tag, m.mergeFields[f.tag] ?? '']));
  for (const [tag, value] of Object.entries(m.mergeFields)) mergeFields[tag] = value;
  const interests = Object.fromEntries(
    list.seed.interestCategories.flatMap((c) => c.interests.map((i) => [i.id, m.interests[i.id] ?? false] as const)),
  );
  const first = m.mergeFields['FNAME'];
  const last = m.mergeFields['LNAME'];
  return {
    id,
    email_address: m.email,
    unique_email_id: m.uniqueEmailId,
    contact_id: m.contactId,
    full_name: [first, last].filter((v) => typeof v === 'string' && v !== '').join(' '),
    web_id: m.webId,
    email_type: m.emailType,
    status: m.status,
    ...(m.status === 'unsubscribed' ? { unsubscribe_reason: m.unsubscribeReason } : {}),
    consents_to_one_to_one_messaging: true,
    merge_fields: mergeFields,
    interests,
    stats: { avg_open_rate: 0, avg_click_rate: 0 },
    ip_signup: m.ipSignup,
    timestamp_signup: mailchimpTime(m.timestampSignup),
    ip_opt: m.ipOpt,
    timestamp_opt: mailchimpTime(m.timestampOpt),
    member_rating: 2,
    last_changed: mailchimpTime(m.lastChanged),
    language: m.language,
    vip: m.vip,
    email_client: '',
    location: { latitude: 0, longitude: 0, gmtoff: 0, dstoff: 0, country_code: '', timezone: '', region: '' },
    marketing_permissions: list.seed.marketingPermissions.map((p) => ({
      marketing_permission_id: p.id,
      text: p.text,
      enabled: m.permissions[p.id] ?? false,
    })),
    source: m.source,
    tags_count: m.tags.size,
    tags: [...m.tags.values()].map((t) => ({ id: t.id, name: t.name })),
    list_id: list.seed.id,
    _links: [
      { rel: 'self', href: `/3.0/lists/${list.seed.id}/members/${id}`, method: 'GET' },
      { rel: 'upsert', href: `/3.0/lists/${list.seed.id}/members/${id}`, method: 'PUT' },
    ],
  };
}

export function listJson(list: StoredList): Record<string, unknown> {
  const members = [...list.members.values()];
  const count = (status: string): number => members.filter((m) => m.status === status).length;
  return {
    id: list.seed.id,
    web_id: 1,
    name: list.seed.name,
    contact: { company: 'Concord', address1: '1 Main St', city: 'Springfield', state: '', zip: '00000', country: 'US' },
    permission_reminder: 'You signed up on our website.',
    use_archive_bar: true,
    campaign_defaults: { from_name: 'Concord', from_email: 'news@example.com', subject: '', language: 'en' },
    email_type_option: false,
    marketing_permissions: list.seed.marketingPermissions.length > 0,
    double_optin: false,
    date_created: mailchimpTime(list.dateCreated),
    list_rating: 0,
    visibility: 'prv',
    stats: {
      member_count: count('subscribed'),
      unsubscribe_count: count('unsubscribed'),
      cleaned_count: count('cleaned'),
      total_contacts: members.length,
      merge_field_count: list.seed.mergeFields.length,
    },
  };
}

export function mergeFieldsJson(list: StoredList): Record<string, unknown> {
  const fields = list.seed.mergeFields.map((f, i) => ({
    merge_id: i + 1,
    tag: f.tag,
    name: f.name,
    type: f.type,
    required: f.required,
    default_value: '',
    public: true,
    display_order: i + 2,
    options: f.type === 'address' ? { default_country: 164 } : f.type === 'phone' ? { phone_format: 'none' } : { size: 25 },
    help_text: '',
    list_id: list.seed.id,
  }));
  return { merge_fields: fields, list_id: list.seed.id, total_items: fields.length, merge_field_limit: list.seed.mergeFieldLimit };
}

export function interestCategoriesJson(list: StoredList): Record<string, unknown> {
  const categories = list.seed.interestCategories.map((c, i) => ({
    list_id: list.seed.id,
    id: c.id,
    title: c.title,
    display_order: i,
    type: c.type,
  }));
  return { list_id: list.seed.id, categories, total_items: categories.length };
}

export function interestsJson(list: StoredList, categoryId: string): Record<string, unknown> | undefined {
  const category = list.seed.interestCategories.find((c) => c.id === categoryId);
  if (!category) return undefined;
  const members = [...list.members.values()];
  const interests = category.interests.map((i, n) => ({
    category_id: category.id,
    list_id: list.seed.id,
    id: i.id,
    name: i.name,
    subscriber_count: String(members.filter((m) => m.status === 'subscribed' && m.interests[i.id]).length),
    display_order: n,
  }));
  return { interests, list_id: list.seed.id, category_id: category.id, total_items: interests.length };
}

/** A webhook as GET answers it (the signing secret is never shown again). */
export function webhookJson(w: StoredWebhook): Record<string, unknown> {
  return { id: w.id, url: w.url, events: { ...w.events }, sources: { ...w.sources }, list_id: w.listId };
}

/**
 * Mailchimp's `fields` / `exclude_fields`: comma-separated dotted paths (`members.email_address`)
 * to keep or drop; arrays are walked through.
 */
export function project(value: unknown, fields: string | undefined, exclude: string | undefined): unknown {
  const paths = (s: string | undefined): string[][] =>
    (s ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '')
      .map((p) => p.split('.'));
  const keep = paths(fields);
  const drop = paths(exclude);
  let out = keep.length > 0 ? pick(value, keep) : value;
  if (drop.length > 0) out = omit(out, drop);
  return out;
}

function pick(value: unknown, paths: string[][]): unknown {
  if (Array.isArray(value)) return value.map((v) => pick(v, paths));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const [head, ...rest] of paths) {
    if (head === undefined || !(head in record)) continue;
    const sub = paths.filter((p) => p[0] === head && p.length > 1).map((p) => p.slice(1));
    out[head] =
      rest.length === 0 && sub.length === 0 ? record[head] : sub.length > 0 && rest.length > 0 ? pick(record[head], sub) : record[head];
  }
  return out;
}

function omit(value: unknown, paths: string[][]): unknown {
  if (Array.isArray(value)) return value.map((v) => omit(v, paths));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [head, ...rest] of paths) {
    if (head === undefined || !(head in out)) continue;
    if (rest.length === 0) delete out[head];
    else out[head] = omit(out[head], [rest]);
  }
  return out;
}
