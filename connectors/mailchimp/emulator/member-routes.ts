/**
 * The list and member endpoints under `/3.0` (registered with that prefix): lists, members
 * (list, read, add, upsert, update, archive, delete-permanent), member tags, merge fields and
 * interest categories. `{subscriber_hash}` may be the e-mail hash, the e-mail or the contact_id.
 * https://mailchimp.com/developer/marketing/api/list-members/
 */
import type { FastifyInstance } from 'fastify';
import { fieldErrors, notFound, parseInput } from './errors.js';
import { AddMemberBody, FieldsQuery, ListMembersQuery, MemberTagsBody, PatchMemberBody, PutMemberBody } from './schemas.js';
import { interestCategoriesJson, interestsJson, listJson, mailchimpTime, memberJson, mergeFieldsJson, project } from './serialize.js';
import { parseMailchimpTime, type MailchimpState, type StoredMember } from './state.js';

type Params = { list_id: string; subscriber_hash: string; interest_category_id: string };
const API = { source: 'api' } as const;

/** Whole seconds, as the API shows `last_changed` (filters compare what the caller saw). */
const seconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000) * 1000);

function filterMembers(members: StoredMember[], q: ListMembersQuery): StoredMember[] {
  // A `+00:00` offset sent unencoded arrives as ` 00:00`; read it as the caller meant it.
  const bound = (value: string | undefined, field: string): number | null =>
    value === undefined || value === '' ? null : parseMailchimpTime(value.replace(/(T[\d:.]+) (\d{2}:?\d{2})$/, '$1+$2'), field);
  const sinceChanged = bound(q.since_last_changed, 'since_last_changed');
  const beforeChanged = bound(q.before_last_changed, 'before_last_changed');
  const sinceOpt = bound(q.since_timestamp_opt, 'since_timestamp_opt');
  const beforeOpt = bound(q.before_timestamp_opt, 'before_timestamp_opt');
  const unsubscribedSince = bound(q.unsubscribed_since, 'unsubscribed_since');
  return members.filter((m) => {
    const changed = seconds(m.lastChanged) ?? 0;
    const opt = seconds(m.timestampOpt);
    if (q.status !== undefined && m.status !== q.status) return false;
    if (sinceChanged !== null && changed < sinceChanged) return false;
    if (beforeChanged !== null && changed >= beforeChanged) return false;
    if (sinceOpt !== null && (opt === null || opt < sinceOpt)) return false;
    if (beforeOpt !== null && (opt === null || opt >= beforeOpt)) return false;
    if (unsubscribedSince !== null && (m.status !== 'unsubscribed' || changed < unsubscribedSince)) return false;
    return true;
  });
}

function sortMembers(members: StoredMember[], q: ListMembersQuery): StoredMember[] {
  if (!q.sort_field) return members;
  const key = (m: StoredMember): number =>
    (q.sort_field === 'last_changed' ? m.lastChanged : q.sort_field === 'timestamp_opt' ? m.timestampOpt : m.timestampSignup) ?? 0;
  const dir = q.sort_dir === 'DESC' ? -1 : 1;
  return [...members].sort((a, b) => dir * (key(a) - key(b)) || a.webId - b.webId);
}

export function registerMemberRoutes(app: FastifyInstance, state: MailchimpState): void {
  // https://mailchimp.com/developer/marketing/api/lists/get-lists-info/
  app.get('/lists', async (req) => {
    const q = parseInput(FieldsQuery, req.query);
    const lists = [...state.lists.values()].map(listJson);
    return project({ lists, total_items: lists.length }, q.fields, q.exclude_fields);
  });

  // https://mailchimp.com/developer/marketing/api/lists/get-list-info/
  app.get<{ Params: Params }>('/lists/:list_id', async (req) => {
    const q = parseInput(FieldsQuery, req.query);
    return project(listJson(state.list(req.params.list_id)), q.fields, q.exclude_fields);
  });

  // https://mailchimp.com/developer/marketing/api/list-members/list-members-info/
  app.get<{ Params: Params }>('/lists/:list_id/members', async (req) => {
    const list = state.list(req.params.list_id);
    const q = parseInput(ListMembersQuery, req.query);
    const all = sortMembers(filterMembers([...list.members.values()], q), q);
    const members = all.slice(q.offset, q.offset + q.count).map((m) => memberJson(list, m));
    return project({ members, list_id: list.seed.id, total_items: all.length }, q.fields, q.exclude_fields);
  });

  // https://mailchimp.com/developer/marketing/api/list-members/add-member-to-list/
  app.post<{ Params: Params }>('/lists/:list_id/members', async (req) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(AddMemberBody, req.body);
    const skip = (req.query as { skip_merge_validation?: string }).skip_merge_validation === 'true';
    return memberJson(list, state.create(list, body, body.status, { ...API, skipMergeValidation: skip }));
  });

  // https://mailchimp.com/developer/marketing/api/list-members/get-member-info/
  app.get<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash', async (req) => {
    const list = state.list(req.params.list_id);
    const q = parseInput(FieldsQuery, req.query);
    return project(memberJson(list, state.member(list, req.params.subscriber_hash)), q.fields, q.exclude_fields);
  });

  // https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/
  app.put<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash', async (req) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(PutMemberBody, req.body);
    const skip = (req.query as { skip_merge_validation?: string }).skip_merge_validation === 'true';
    const existing = state.find(list, req.params.subscriber_hash);
    if (existing) return memberJson(list, state.update(list, existing, body, body.status, { ...API, skipMergeValidation: skip }));
    const status = body.status ?? body.status_if_new;
    if (!status) throw fieldErrors([{ field: 'status_if_new', message: 'This value should not be blank.' }]);
    return memberJson(list, state.create(list, body, status, { ...API, skipMergeValidation: skip }));
  });

  // https://mailchimp.com/developer/marketing/api/list-members/update-list-member/
  app.patch<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash', async (req) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(PatchMemberBody, req.body);
    const member = state.member(list, req.params.subscriber_hash);
    return memberJson(list, state.update(list, member, body, body.status, API));
  });

  // https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/
  app.delete<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash', async (req, reply) => {
    const list = state.list(req.params.list_id);
    state.archive(list, state.member(list, req.params.subscriber_hash), 'api');
    return reply.code(204).send();
  });

  // https://mailchimp.com/developer/marketing/api/list-members/delete-list-member/
  app.post<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash/actions/delete-permanent', async (req, reply) => {
    const list = state.list(req.params.list_id);
    state.deletePermanent(list, state.member(list, req.params.subscriber_hash), 'api');
    return reply.code(204).send();
  });

  // https://mailchimp.com/developer/marketing/api/list-member-tags/list-member-tags/
  app.get<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash/tags', async (req) => {
    const list = state.list(req.params.list_id);
    const member = state.member(list, req.params.subscriber_hash);
    const tags = [...member.tags.values()].map((t) => ({ id: t.id, name: t.name, date_added: mailchimpTime(t.dateAdded) }));
    return { tags, total_items: tags.length };
  });

  // https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
  app.post<{ Params: Params }>('/lists/:list_id/members/:subscriber_hash/tags', async (req, reply) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(MemberTagsBody, req.body);
    state.setTags(list, state.member(list, req.params.subscriber_hash), body.tags);
    return reply.code(204).send();
  });

  // https://mailchimp.com/developer/marketing/api/list-merges/list-merge-fields/
  app.get<{ Params: Params }>('/lists/:list_id/merge-fields', async (req) => mergeFieldsJson(state.list(req.params.list_id)));

  // https://mailchimp.com/developer/marketing/api/interest-categories/list-interest-categories/
  app.get<{ Params: Params }>('/lists/:list_id/interest-categories', async (req) => interestCategoriesJson(state.list(req.params.list_id)));

  // https://mailchimp.com/developer/marketing/api/interests/list-interests-in-category/
  app.get<{ Params: Params }>('/lists/:list_id/interest-categories/:interest_category_id/interests', async (req) => {
    const json = interestsJson(state.list(req.params.list_id), req.params.interest_category_id);
    if (!json) throw notFound();
    return json;
  });
}
