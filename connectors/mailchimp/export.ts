/**
 * Access requests (Art. 15): everything Mailchimp holds on a person. The member as Mailchimp
 * answers it (every field with a value, merge fields nested as Mailchimp has them), the list's
 * merge-field names as labels (`merge_fields.<TAG>`), and beside it (`related`) the member's
 * tags, interests (with the interest's and its category's names) and marketing permissions.
 * The list's merge fields and interests are read once per instance.
 * https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
 * https://mailchimp.com/developer/marketing/api/list-merges/list-merge-fields/
 * https://mailchimp.com/developer/marketing/api/interests/list-interests-in-category/
 */
import type { EraseRef, ExportedRecord } from '../../src/connector/define.js';
import { nonEmpty, nonEmptyFields, uniqueBy } from '../../src/connector/kit/index.js';
import type { Json } from '../../src/profile/schema.js';
import { subscriberHash, type MailchimpApi } from './api.js';
import { getMember, type Member } from './read.js';

/** What the list says of its fields: merge-field tag -> name, interest id -> its and its category's names. */
export interface ListLabels {
  mergeFields: Record<string, string>;
  interests: Record<string, { name: string; category: string }>;
}

interface MergeFieldsAnswer {
  merge_fields?: { tag: string; name: string }[];
}
interface CategoriesAnswer {
  categories?: { id: string; title: string }[];
}
interface InterestsAnswer {
  interests?: { id: string; name: string }[];
}

/** Members read per call: Mailchimp's largest `count`. */
const PAGE = 1000;
/** Member keys that go beside the record, not in its fields. */
const RELATED_KEYS = new Set(['_links', 'tags', 'interests', 'marketing_permissions']);

export class MailchimpExporter {
  private labels: Promise<ListLabels> | undefined;

  constructor(private readonly api: MailchimpApi) {}

  /** The list's merge-field names and interests (read once per instance; a failed read is tried again). */
  listLabels(signal?: AbortSignal): Promise<ListLabels> {
    this.labels ??= this.readLabels(signal).catch((err: unknown) => {
      this.labels = undefined;
      throw err;
    });
    return this.labels;
  }

  async export(refs: readonly EraseRef[], signal: AbortSignal): Promise<ExportedRecord[]> {
    const found = await Promise.all(
      refs.map(async (ref): Promise<Member[]> => {
        // The contact_id when the hub knows it, then the address's hash.
        for (const key of [...(ref.externalId ? [ref.externalId] : []), ...(ref.email ? [subscriberHash(ref.email)] : [])]) {
          const member = await getMember(this.api, key, signal);
          if (member) return [member];
        }
        return [];
      }),
    );
    const members = uniqueBy(found, (m) => m.contact_id);
    if (members.length === 0) return [];
    const labels = await this.listLabels(signal);
    return members.map((m) => this.toRecord(m, labels));
  }

  private toRecord(member: Member, list: ListLabels): ExportedRecord {
    const fields = nonEmptyFields(Object.fromEntries(Object.entries(member).filter(([key]) => !RELATED_KEYS.has(key))));
    const labels: Record<string, string> = {};
    const merges = fields['merge_fields'];
    if (typeof merges === 'object' && merges !== null && !Array.isArray(merges)) {
      for (const tag of Object.keys(merges)) {
        const name = list.mergeFields[tag];
        if (name !== undefined) labels[`merge_fields.${tag}`] = name;
      }
    }
    const related: Record<string, Json> = {};
    const tags = nonEmpty(member.tags);
    if (tags !== undefined) related.tags = tags;
    const interests = Object.entries(member.interests ?? {}).map(([id, subscribed]) => ({
      id,
      ...(list.interests[id] ?? {}),
      subscribed,
    }));
    if (interests.length > 0) related.interests = interests;
    const permissions = nonEmpty(member.marketing_permissions);
    if (permissions !== undefined) related.marketingPermissions = permissions;
    const changed = typeof member.last_changed === 'string' ? Date.parse(member.last_changed) : Number.NaN;
    return {
      externalId: member.contact_id,
      at: new Date(Number.isNaN(changed) ? 0 : changed).toISOString(),
      fields,
      labels,
      ...(Object.keys(related).length > 0 ? { related } : {}),
    };
  }

  private async readLabels(signal?: AbortSignal): Promise<ListLabels> {
    const list = `/lists/${encodeURIComponent(this.api.config.listId)}`;
    const params = { count: String(PAGE) };
    const merges = await this.api.request<MergeFieldsAnswer>('GET', `${list}/merge-fields`, { params, signal });
    const mergeFields: Record<string, string> = {};
    for (const f of merges.data.merge_fields ?? []) mergeFields[f.tag] = f.name;
    const interests: ListLabels['interests'] = {};
    const categories = await this.api.request<CategoriesAnswer>('GET', `${list}/interest-categories`, { params, signal });
    for (const c of categories.data.categories ?? []) {
      const res = await this.api.request<InterestsAnswer>('GET', `${list}/interest-categories/${encodeURIComponent(c.id)}/interests`, {
        params,
        signal,
      });
      for (const i of res.data.interests ?? []) interests[i.id] = { name: i.name, category: c.title };
    }
    return { mergeFields, interests };
  }
}
