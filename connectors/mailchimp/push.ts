/**
 * Push, one outcome per record in input order:
 * - creates (no external id): one batch subscribe `POST /lists/{id}` (update_existing false),
 *   `subscribed` only for a consent the hub holds as granted, `unsubscribed` when denied,
 *   `transactional` otherwise; an address that exists already (ERROR_CONTACT_EXISTS) is read
 *   and answered `retryable` with its contact_id, so the engine reads it before writing;
 * - updates (external id known): a PATCH per member, `status` only when the record carries a
 *   consent change, after a GET (an archived member stays archived: `member_archived`); more
 *   updates than `batchOperationsAbove` go as one `POST /batches` (those without a status write);
 * - tags only through `POST …/members/{hash}/tags` with `is_syncing: true`;
 * - Mailchimp's permanent per-record refusals (compliance state, forgotten e-mail, too many
 *   sign-ups, archived) are `rejected` with a stable code, never a failed job.
 * https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
 * https://mailchimp.com/developer/marketing/api/list-members/update-list-member/
 * https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
 */
import { createHash } from 'node:crypto';
import type { PushOutcome, PushRecord } from '../../src/connector/define.js';
import { AuthError, ConnectorConfigError, RateLimitedError } from '../../src/connector/errors.js';
import { chunks, redactContacts } from '../../src/connector/kit/index.js';
import { jsonEqual } from '../../src/connector/mapping.js';
import type { Json, Profile } from '../../src/profile/schema.js';
import { mailchimpError, memberProblemCode, permanentMemberCode, subscriberHash, type MailchimpApi, type MemberOutcome } from './api.js';
import { runBatch, type BatchOperation, type BatchResult } from './batches.js';
import {
  EMAIL_FIELD,
  interestIdOf,
  LANGUAGE_FIELD,
  mailchimpDate,
  mergeTagOf,
  permissionIdOf,
  STATUS_FIELD,
  statusFieldValue,
  TAGS_FIELD,
  toMailchimpTimestamp,
  toMergeValue,
} from './mapping.js';
import { getMember, toRecord, type Member } from './read.js';

/** Members per batch subscribe call (Mailchimp's maximum). */
export const BATCH_SUBSCRIBE_MAX = 500;

/** The member body of a create or an update (`status` is decided separately). */
interface MemberBody {
  email_address?: string;
  merge_fields?: Record<string, string | number | Record<string, Json>>;
  interests?: Record<string, boolean>;
  marketing_permissions?: { marketing_permission_id: string; enabled: boolean }[];
  language?: string;
  status?: string;
  ip_opt?: string;
  timestamp_opt?: string;
}

interface Work {
  record: PushRecord;
  index: number;
  email: string | undefined;
  body: MemberBody;
  /** The consent change to write (`status` field), when the record carries one. */
  status: 'subscribed' | 'unsubscribed' | undefined;
  tags: string[] | undefined;
  outcome?: PushOutcome;
  /** The contact_id once known. */
  externalId?: string;
  created?: boolean;
  /** The rate limit that stopped this record. */
  rateLimit?: RateLimitedError;
}

interface BatchSubscribeAnswer {
  new_members?: Member[];
  updated_members?: Member[];
  errors?: { email_address?: string; error?: string; error_code?: string }[];
}

export class MailchimpPusher {
  private readonly purpose: string;
  private readonly channel: string;

  constructor(private readonly api: MailchimpApi) {
    const [purpose = '', channel = ''] = api.config.statusConsent.split('.');
    this.purpose = purpose;
    this.channel = channel;
  }

  private get listPath(): string {
    return `/lists/${encodeURIComponent(this.api.config.listId)}`;
  }

  private memberPath(key: string): string {
    return `${this.listPath}/members/${encodeURIComponent(key)}`;
  }

  async push(batch: readonly PushRecord[], signal: AbortSignal): Promise<PushOutcome[]> {
    if (batch.length === 0) return [];
    const work = batch.map((record, index) => this.prepare(record, index));
    const creates = work.filter((w) => w.record.externalId === undefined);
    const updates = work.filter((w) => w.record.externalId !== undefined);
    await this.create(creates, signal);
    // Consent changes (a status, a GDPR permission) go one by one, after a read: never in a
    // batch that Mailchimp may run minutes later, over a newer choice.
    const viaBatch =
      updates.length > this.api.config.batchOperationsAbove
        ? updates.filter((w) => w.status === undefined && w.body.marketing_permissions === undefined)
        : [];
    const oneByOne = updates.filter((w) => !viaBatch.includes(w));
    await Promise.all([this.updateEach(oneByOne, signal), this.updateInBatch(viaBatch, signal)]);
    // A rate limit that stopped every record is the whole call's: the engine parks the queue.
    const limit = work.find((w) => w.rateLimit)?.rateLimit;
    if (limit && work.every((w) => w.rateLimit !== undefined)) throw limit;
    return work.map((w) => {
      const outcome = w.outcome ?? this.okOrLost(w);
      this.api.count(outcomeLabel(outcome));
      return outcome;
    });
  }

  private okOrLost(w: Work): PushOutcome {
    return w.externalId !== undefined
      ? { status: 'ok', profileId: w.record.profileId, externalId: w.externalId, ...(w.created ? { created: true } : {}) }
      : { status: 'retryable', profileId: w.record.profileId, reason: 'Mailchimp returned no result for the record' };
  }

  private prepare(record: PushRecord, index: number): Work {
    const body: MemberBody = {};
    let status: Work['status'];
    let tags: string[] | undefined;
    let email: string | undefined;
    for (const [name, value] of Object.entries(record.fields)) {
      if (name === EMAIL_FIELD) {
        if (typeof value === 'string' && value.trim() !== '') email = value.trim().toLowerCase();
        continue;
      }
      if (name === LANGUAGE_FIELD) {
        body.language = typeof value === 'string' ? value : '';
        continue;
      }
      if (name === STATUS_FIELD) {
        if (value === 'subscribed' || value === 'unsubscribed') status = value;
        continue;
      }
      if (name === TAGS_FIELD) {
        tags = Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string' && t !== '') : [];
        continue;
      }
      const tag = mergeTagOf(name);
      if (tag !== undefined) {
        (body.merge_fields ??= {})[tag] = toMergeValue(value);
        continue;
      }
      const interest = interestIdOf(name);
      if (interest !== undefined) {
        if (typeof value === 'boolean') (body.interests ??= {})[interest] = value;
        continue;
      }
      const permission = permissionIdOf(name);
      if (permission !== undefined && typeof value === 'boolean') {
        (body.marketing_permissions ??= []).push({ marketing_permission_id: permission, enabled: value });
      }
    }
    // Never `subscribed` for a person whose consent the hub does not hold as granted.
    if (status === 'subscribed' && record.profile !== undefined && !this.granted(record.profile)) status = undefined;
    if (email !== undefined) body.email_address = email;
    return { record, index, email, body, status, tags };
  }

  /** The hub holds the status consent as granted, and no restriction or objection is active. */
  private granted(profile: Profile): boolean {
    return profile.consents[this.purpose]?.[this.channel]?.value === 'granted' && !restricted(profile);
  }

  /** The opt-in evidence the hub holds (`ip_opt`, `timestamp_opt`), sent with a subscription. */
  private optIn(profile: Profile | undefined): Pick<MemberBody, 'ip_opt' | 'timestamp_opt'> {
    const consent = profile?.consents[this.purpose]?.[this.channel];
    if (consent?.value !== 'granted') return {};
    const timestamp = toMailchimpTimestamp(consent.at);
    return { ...(consent.evidence.ip ? { ip_opt: consent.evidence.ip } : {}), ...(timestamp ? { timestamp_opt: timestamp } : {}) };
  }

  private fail(w: Work, err: unknown): void {
    const profileId = w.record.profileId;
    if (err instanceof AuthError || err instanceof ConnectorConfigError) throw err;
    if (err instanceof RateLimitedError) {
      w.rateLimit = err;
      w.outcome = { status: 'retryable', profileId, reason: 'Mailchimp rate limit', retryAfterMs: err.retryAfterMs };
      return;
    }
    const code = permanentMemberCode(err);
    const reason = redactContacts(err instanceof Error ? err.message : String(err)).slice(0, 300);
    w.outcome = code !== undefined ? { status: 'rejected', profileId, reason, code } : { status: 'retryable', profileId, reason };
  }

  // ---------------------------------------------------------------- creates

  private async create(creates: Work[], signal: AbortSignal): Promise<void> {
    const seen = new Set<string>();
    const todo: Work[] = [];
    for (const w of creates) {
      const profileId = w.record.profileId;
      if (w.email === undefined) {
        w.outcome = { status: 'rejected', profileId, reason: 'no e-mail address to create the Mailchimp member by', code: 'missing_email' };
      } else if (seen.has(w.email)) {
        w.outcome = { status: 'retryable', profileId, reason: 'another record of the batch has the same e-mail address' };
      } else {
        seen.add(w.email);
        todo.push(w);
      }
    }
    for (const part of chunks(todo, BATCH_SUBSCRIBE_MAX)) await this.batchSubscribe(part, signal);
    const tagged = todo.filter((w) => w.outcome === undefined && w.externalId !== undefined && w.tags !== undefined && w.tags.length > 0);
    await Promise.all(tagged.map((w) => this.writeTags(w, undefined, signal)));
  }

  /** https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/ */
  private async batchSubscribe(part: Work[], signal: AbortSignal): Promise<void> {
    const members = part.map((w) => {
      const status = w.status === 'subscribed' ? 'subscribed' : w.status === 'unsubscribed' ? 'unsubscribed' : 'transactional';
      return { ...w.body, status, ...(status === 'subscribed' ? this.optIn(w.record.profile) : {}) };
    });
    const res = await this.api.request<BatchSubscribeAnswer>('POST', this.listPath, {
      data: { members, update_existing: false },
      signal,
    });
    const byEmail = new Map(part.map((w) => [w.email ?? '', w]));
    for (const m of [...(res.data?.new_members ?? []), ...(res.data?.updated_members ?? [])]) {
      const w = byEmail.get(String(m.email_address ?? '').toLowerCase());
      if (w && typeof m.contact_id === 'string') {
        w.externalId = m.contact_id;
        w.created = true;
      }
    }
    const exists: Work[] = [];
    for (const e of res.data?.errors ?? []) {
      const w = byEmail.get(String(e.email_address ?? '').toLowerCase());
      if (!w || w.externalId !== undefined) continue;
      const message = redactContacts(e.error ?? 'refused').slice(0, 300);
      if (e.error_code === 'ERROR_CONTACT_EXISTS') exists.push(w);
      else {
        const code = memberProblemCode(message) ?? 'invalid_member';
        w.outcome = { status: 'rejected', profileId: w.record.profileId, reason: `${e.error_code ?? 'ERROR'}: ${message}`, code };
      }
    }
    // The address is a member already (an earlier write that landed, someone else's sign-up):
    // the engine reads it and writes again as an update, so nothing is overwritten blindly.
    await Promise.all(
      exists.map(async (w) => {
        try {
          const member = await getMember(this.api, subscriberHash(w.email ?? ''), signal);
          w.outcome = {
            status: 'retryable',
            profileId: w.record.profileId,
            reason: 'the address is already a member of the audience: reading it before writing',
            ...(member ? { externalId: member.contact_id } : {}),
          };
        } catch (err) {
          this.fail(w, err);
        }
      }),
    );
  }

  // ---------------------------------------------------------------- updates

  private async updateEach(updates: Work[], signal: AbortSignal): Promise<void> {
    await Promise.all(
      updates.map(async (w) => {
        try {
          await this.updateOne(w, signal);
        } catch (err) {
          this.fail(w, err);
        }
      }),
    );
  }

  private async updateOne(w: Work, signal: AbortSignal): Promise<void> {
    const id = w.record.externalId ?? '';
    const profileId = w.record.profileId;
    const body: MemberBody = { ...w.body };
    let held: Member | undefined;
    if (w.status !== undefined) {
      // What Mailchimp holds before a consent change is written.
      held = await getMember(this.api, id, signal);
      if (held === undefined) {
        w.outcome = { status: 'rejected', profileId, reason: 'the Mailchimp member no longer exists', code: 'member_not_found' };
        return;
      }
      if (held.status === 'archived') {
        // An archived member gets no mail: a withdrawal holds already; a subscription would resurrect it.
        if (w.status === 'subscribed') {
          w.outcome = {
            status: 'rejected',
            profileId,
            reason: 'the member is archived in Mailchimp and stays archived',
            code: 'member_archived',
          };
          return;
        }
      } else if (newerStatusChoice(w.record, held) || changedSinceHeld(w.record, held)) {
        w.outcome = {
          status: 'retryable',
          profileId,
          reason: "the member changed in Mailchimp after the hub's last view: reading it before writing",
          retryAfterMs: 1_000,
          externalId: held.contact_id,
        };
        return;
      } else if (statusFieldValue(held.status) !== w.status) {
        body.status = w.status;
        if (w.status === 'subscribed') Object.assign(body, this.optIn(w.record.profile));
      }
    }
    w.externalId = id;
    if (Object.keys(body).length > 0) {
      const res = await this.api.request<Member>('PATCH', this.memberPath(id), { data: body, signal });
      if (typeof res.data?.contact_id === 'string') w.externalId = res.data.contact_id;
    }
    if (w.tags !== undefined) await this.writeTags(w, w.record.held?.[TAGS_FIELD], signal);
    if (
      w.status === 'unsubscribed' &&
      held?.status !== 'archived' &&
      this.api.config.archiveOnRestriction &&
      restricted(w.record.profile)
    ) {
      // A restriction or an objection to direct marketing, where the operator chose to archive too (405: cleaned, pending).
      // https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/
      await this.api.request('DELETE', this.memberPath(id), { signal, accept: [404, 405] });
    }
  }

  /** The tag changes of a record: its tags active, the ones the hub last saw and are gone inactive. */
  private tagChanges(w: Work, held: Json | undefined): { name: string; status: 'active' | 'inactive' }[] {
    const wanted = new Set(w.tags ?? []);
    const before = Array.isArray(held) ? held.filter((t): t is string => typeof t === 'string') : [];
    return [
      ...[...wanted].map((name) => ({ name, status: 'active' as const })),
      ...before.filter((t) => !wanted.has(t)).map((name) => ({ name, status: 'inactive' as const })),
    ];
  }

  /** https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/ */
  private async writeTags(w: Work, held: Json | undefined, signal: AbortSignal): Promise<void> {
    const tags = this.tagChanges(w, held);
    if (tags.length === 0 || w.externalId === undefined) return;
    try {
      await this.api.request('POST', `${this.memberPath(w.externalId)}/tags`, {
        data: { tags, is_syncing: true },
        signal,
        idempotent: true,
      });
    } catch (err) {
      if (err instanceof AuthError) throw err;
      // The member is written; its tags are not: read it and write again.
      w.outcome = {
        status: 'retryable',
        profileId: w.record.profileId,
        reason: `tags not written: ${redactContacts(err instanceof Error ? err.message : String(err)).slice(0, 200)}`,
        externalId: w.externalId,
      };
    }
  }

  /** Updates without a status write, as one batch operation: a PATCH each, and their tags. */
  private async updateInBatch(updates: Work[], signal: AbortSignal): Promise<void> {
    if (updates.length === 0) return;
    const ops: BatchOperation[] = [];
    const byOp = new Map<string, { w: Work; kind: 'patch' | 'tags' }>();
    for (const w of updates) {
      const id = w.record.externalId ?? '';
      w.externalId = id;
      const key = operationKey(w);
      if (Object.keys(w.body).length > 0) {
        ops.push({ method: 'PATCH', path: this.memberPath(id), body: w.body, operation_id: `patch-${key}` });
        byOp.set(`patch-${key}`, { w, kind: 'patch' });
      }
      const tags = w.tags === undefined ? [] : this.tagChanges(w, w.record.held?.[TAGS_FIELD]);
      if (tags.length > 0) {
        ops.push({ method: 'POST', path: `${this.memberPath(id)}/tags`, body: { tags, is_syncing: true }, operation_id: `tags-${key}` });
        byOp.set(`tags-${key}`, { w, kind: 'tags' });
      }
    }
    if (ops.length === 0) return;
    let results: Map<string, BatchResult>;
    try {
      results = await runBatch(this.api, ops, signal);
    } catch (err) {
      for (const w of updates) this.fail(w, err);
      return;
    }
    const now = Date.now();
    for (const op of ops) {
      const entry = byOp.get(op.operation_id);
      if (!entry || entry.w.outcome?.status === 'rejected') continue;
      const { w, kind } = entry;
      const result = results.get(op.operation_id);
      if (result === undefined) {
        w.outcome = { status: 'retryable', profileId: w.record.profileId, reason: 'the batch operation gave no result for the record' };
        continue;
      }
      if (result.status_code < 400) {
        const m = result.response as Partial<Member> | undefined;
        if (kind === 'patch' && typeof m?.contact_id === 'string') w.externalId = m.contact_id;
        continue;
      }
      const err =
        result.status_code === 429
          ? new RateLimitedError('Mailchimp rate limit (batch operation)', { retryAfterMs: 1_000, status: 429 })
          : mailchimpError(result.status_code, result.response, {}, now);
      if (kind === 'tags' && permanentMemberCode(err) === undefined) {
        w.outcome = {
          status: 'retryable',
          profileId: w.record.profileId,
          reason: `tags not written: ${err.message}`,
          externalId: w.externalId,
        };
      } else this.fail(w, err);
    }
  }
}

/** A unique, stable operation id part for a record (its place in the batch and a hash of its profile id). */
function operationKey(w: Work): string {
  return `${w.index}-${createHash('sha256').update(w.record.profileId).digest('hex').slice(0, 16)}`;
}

/** Processing is restricted (Art. 18), or the person objects to direct marketing (Art. 21(2)). */
function restricted(profile: Profile | undefined): boolean {
  return profile?.rights.restricted?.value === true || profile?.rights.objections.directMarketing?.value === true;
}

/**
 * Mailchimp holds a status other than the one to write, set after the profile's value was chosen
 * (`valuesAt.status`) and not the one the hub last saw (`held.status`): someone chose it after the
 * hub's choice, so it is read first and the merge decides.
 */
export function newerStatusChoice(record: PushRecord, member: Member): boolean {
  const current = statusFieldValue(member.status);
  if (current === null || current === record.fields[STATUS_FIELD]) return false;
  const setAt = Date.parse(toRecord(member).fieldsAt?.[STATUS_FIELD] ?? mailchimpDate(member.last_changed) ?? '');
  const oursAt = Date.parse(record.valuesAt?.[STATUS_FIELD] ?? '');
  if (!Number.isFinite(setAt) || !Number.isFinite(oursAt) || setAt <= oursAt) return false;
  if (record.held !== undefined && Object.hasOwn(record.held, STATUS_FIELD)) return record.held[STATUS_FIELD] !== current;
  return true;
}

/**
 * A field this write sends holds, in Mailchimp, neither what the hub last saw there (`held`) nor
 * the value to write: someone edited it since, so it is read first and the merge decides (only
 * checked where the member is read anyway, before a status write).
 */
export function changedSinceHeld(record: PushRecord, member: Member): boolean {
  const held = record.held;
  if (held === undefined) return false;
  const now = toRecord(member).fields;
  return Object.entries(record.fields).some(
    ([field, value]) =>
      field !== STATUS_FIELD &&
      field !== TAGS_FIELD &&
      Object.hasOwn(held, field) &&
      !jsonEqual(now[field] ?? null, held[field] ?? null) &&
      !jsonEqual(now[field] ?? null, value),
  );
}

function outcomeLabel(outcome: PushOutcome): MemberOutcome {
  if (outcome.status === 'ok') return 'ok';
  if (outcome.status === 'retryable') return 'retryable';
  const known: readonly MemberOutcome[] = [
    'compliance_state',
    'forgotten_email',
    'too_many_signups',
    'member_archived',
    'member_not_found',
  ];
  return known.find((k) => k === outcome.code) ?? 'invalid_member';
}
