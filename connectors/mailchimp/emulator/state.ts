/**
 * The emulator's in-memory audiences and Mailchimp's member rules: who may be subscribed again
 * (compliance state, churn), archive and un-archive, delete-permanent and its tombstone, tags
 * only on create, merge-field validation. Every change is reported to `onChange` with its source
 * (user, admin, api), which the webhook sender turns into the list's webhooks.
 * https://mailchimp.com/developer/marketing/api/list-members/
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  complianceState,
  fieldErrors,
  forgottenEmail,
  invalidResource,
  memberExists,
  methodNotAllowed,
  notFound,
  tooManySignups,
  type FieldError,
} from './errors.js';
import type { ListSeed, MailchimpEmulatorOptions } from './options.js';

export const MEMBER_STATUSES = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional', 'archived'] as const;
export type MemberStatus = (typeof MEMBER_STATUSES)[number];
/** What a PUT or POST may set (`archived` exists only in responses). */
export type WritableStatus = Exclude<MemberStatus, 'archived'>;
/** Who made a change, as a webhook's `sources` filter names it. */
export type ChangeSource = 'user' | 'admin' | 'api';
export const WEBHOOK_EVENTS = ['subscribe', 'unsubscribe', 'profile', 'cleaned', 'upemail', 'campaign'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];
/** Why a member may not be set back to subscribed. */
export type ComplianceLock = 'unsubscribed_self' | 'bounced' | 'compliance_review';

export interface AddressValue {
  addr1: string;
  addr2?: string;
  city: string;
  state: string;
  zip: string;
  country?: string;
}
export type MergeValue = string | number | AddressValue;

export interface StoredTag {
  id: number;
  name: string;
  dateAdded: number;
}

export interface StoredMember {
  contactId: string;
  listId: string;
  email: string;
  emailType: 'html' | 'text';
  status: MemberStatus;
  lock: ComplianceLock | null;
  unsubscribeReason: string;
  mergeFields: Record<string, MergeValue>;
  interests: Record<string, boolean>;
  permissions: Record<string, boolean>;
  language: string;
  vip: boolean;
  ipSignup: string;
  timestampSignup: number | null;
  ipOpt: string;
  timestampOpt: number | null;
  lastChanged: number;
  uniqueEmailId: string;
  webId: number;
  source: string;
  tags: Map<string, StoredTag>;
  /** When the status changed (for the churn rule). */
  statusChanges: number[];
}

export interface StoredWebhook {
  id: string;
  listId: string;
  url: string;
  events: Record<WebhookEvent, boolean>;
  sources: Record<ChangeSource, boolean>;
  signingSecret: string | undefined;
  /** A 410 answer disabled it for good. */
  disabled: boolean;
}

export interface StoredList {
  seed: ListSeed;
  dateCreated: number;
  members: Map<string, StoredMember>;
  byHash: Map<string, string>;
  /** E-mail hashes deleted permanently: adds are refused until the person signs up through a form. */
  forgotten: Set<string>;
  webhooks: Map<string, StoredWebhook>;
  tagIds: Map<string, number>;
}

/** A member write as the API takes it (PUT, PATCH, POST, batch subscribe). */
export interface MemberInput {
  email_address?: string | undefined;
  email_type?: 'html' | 'text' | undefined;
  status?: WritableStatus | undefined;
  status_if_new?: WritableStatus | undefined;
  merge_fields?: Record<string, MergeValue> | undefined;
  interests?: Record<string, boolean> | undefined;
  marketing_permissions?: { marketing_permission_id: string; enabled: boolean }[] | undefined;
  language?: string | undefined;
  vip?: boolean | undefined;
  ip_signup?: string | undefined;
  timestamp_signup?: string | undefined;
  ip_opt?: string | undefined;
  timestamp_opt?: string | undefined;
  tags?: string[] | undefined;
}

export interface WriteOptions {
  source: ChangeSource;
  /** Only the `required` check is skipped (`skip_merge_validation`). */
  skipMergeValidation?: boolean;
}

/** A change Mailchimp announces by webhook. */
export interface MemberChange {
  type: Exclude<WebhookEvent, 'campaign'>;
  source: ChangeSource;
  list: StoredList;
  member: StoredMember;
  at: number;
  /** Event-specific `data[...]` fields (action, reason, old_email, new_email, new_id). */
  extra: Record<string, string>;
}

export const emailHash = (email: string): string => createHash('md5').update(email.trim().toLowerCase()).digest('hex');
const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const isValidEmail = (email: string): boolean => EMAIL.test(email.trim());

/** `YYYY-MM-DD HH:MM:SS` (UTC), ISO 8601 with an offset, or "" (absent). */
export function parseMailchimpTime(value: string, field: string): number | null {
  if (value === '') return null;
  const plain = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  const ms = Date.parse(plain);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw fieldErrors([{ field, message: 'Please provide a valid date in the format YYYY-MM-DD HH:MM:SS or ISO 8601.' }]);
  }
  return ms;
}

export class MailchimpState {
  readonly lists = new Map<string, StoredList>();
  /** Addresses whose every API write fails (the side door's `poison`). */
  readonly poisoned = new Set<string>();
  private nextWebId = 100_001;

  constructor(
    readonly options: MailchimpEmulatorOptions,
    readonly now: () => number,
    private readonly onChange: (change: MemberChange) => void,
  ) {
    for (const seed of options.lists) {
      this.lists.set(seed.id, {
        seed,
        dateCreated: now(),
        members: new Map(),
        byHash: new Map(),
        forgotten: new Set(),
        webhooks: new Map(),
        tagIds: new Map(),
      });
    }
  }

  list(id: string): StoredList {
    const list = this.lists.get(id);
    if (!list) throw notFound();
    return list;
  }

  /** The member a path names: the e-mail hash, the e-mail itself or the contact_id. */
  find(list: StoredList, key: string): StoredMember | undefined {
    const byHash = list.byHash.get(key.includes('@') ? emailHash(key) : key.toLowerCase());
    return list.members.get(byHash ?? key);
  }

  member(list: StoredList, key: string): StoredMember {
    const m = this.find(list, key);
    if (!m) throw notFound();
    return m;
  }

  /** Adds a member (POST, PUT of a new address, batch subscribe). */
  create(list: StoredList, input: MemberInput, status: WritableStatus, opts: WriteOptions): StoredMember {
    const email = (input.email_address ?? '').trim();
    this.checkEmail(email);
    const hash = emailHash(email);
    if (list.forgotten.has(hash) && opts.source === 'api') throw forgottenEmail(email);
    if (list.byHash.has(hash)) throw memberExists(email);
    this.validate(list, input, true, opts);
    const now = this.now();
    const member: StoredMember = {
      contactId: hex(16),
      listId: list.seed.id,
      email,
      emailType: input.email_type ?? 'html',
      status,
      lock: null,
      unsubscribeReason: '',
      mergeFields: {},
      interests: {},
      permissions: {},
      language: '',
      vip: false,
      ipSignup: '',
      timestampSignup: null,
      ipOpt: '',
      timestampOpt: null,
      lastChanged: now,
      uniqueEmailId: hex(5),
      webId: this.nextWebId++,
      source: opts.source === 'api' ? 'API - Generic' : opts.source === 'user' ? 'Hosted Signup Form' : 'Admin Add',
      tags: new Map(),
      statusChanges: [],
    };
    this.applyProfile(member, input);
    if (status === 'subscribed') this.stampOptIn(member, input, opts.source);
    for (const name of input.tags ?? []) this.tag(list, member, name, true);
    list.members.set(member.contactId, member);
    list.byHash.set(hash, member.contactId);
    list.forgotten.delete(hash);
    if (status === 'subscribed') this.emit('subscribe', opts.source, list, member);
    return member;
  }

  /**
   * Updates a member (PUT, PATCH, batch subscribe with `update_existing`). `status` applies only
   * when `explicitStatus` is given (status_if_new never touches an existing member); tags in
   * the body are ignored (Mailchimp applies them only on create).
   */
  update(
    list: StoredList,
    member: StoredMember,
    input: MemberInput,
    explicitStatus: WritableStatus | undefined,
    opts: WriteOptions,
  ): StoredMember {
    this.checkPoison(member.email);
    this.validate(list, input, false, opts);
    const newEmail = input.email_address?.trim();
    const emailChanges = newEmail !== undefined && newEmail.toLowerCase() !== member.email.toLowerCase();
    if (emailChanges) {
      this.checkEmail(newEmail);
      const newHash = emailHash(newEmail);
      if (list.forgotten.has(newHash)) throw forgottenEmail(newEmail);
      if (list.byHash.has(newHash)) throw memberExists(newEmail);
    }
    const statusChanges = explicitStatus !== undefined && explicitStatus !== member.status;
    if (statusChanges) this.checkStatusChange(member, explicitStatus);

    const before = JSON.stringify(this.profileOf(member));
    if (emailChanges) {
      const oldEmail = member.email;
      list.byHash.delete(emailHash(oldEmail));
      member.email = newEmail;
      list.byHash.set(emailHash(newEmail), member.contactId);
      member.lastChanged = this.now();
      this.emit('upemail', opts.source, list, member, { old_email: oldEmail, new_email: newEmail, new_id: emailHash(newEmail) });
    }
    this.applyProfile(member, input);
    if (!statusChanges && member.status === 'subscribed') {
      // The opt-in evidence of a subscribed member may be written without a status change.
      if (input.timestamp_opt !== undefined) member.timestampOpt = parseMailchimpTime(input.timestamp_opt, 'timestamp_opt');
      if (input.ip_opt !== undefined) member.ipOpt = input.ip_opt;
    }
    const profileChanged = JSON.stringify(this.profileOf(member)) !== before;
    if (profileChanged) member.lastChanged = this.now();
    if (statusChanges) this.setStatus(list, member, explicitStatus, opts.source, input);
    else if (profileChanged) this.emit('profile', opts.source, list, member);
    return member;
  }

  /** Changes a member's status (after `checkStatusChange`), stamping and announcing it. */
  setStatus(
    list: StoredList,
    member: StoredMember,
    status: MemberStatus,
    source: ChangeSource,
    input: MemberInput = {},
    reason: 'manual' | 'abuse' = 'manual',
  ): void {
    const now = this.now();
    member.status = status;
    member.lastChanged = now;
    member.statusChanges = [...member.statusChanges.filter((t) => now - t < this.options.churnWindowMs), now];
    member.unsubscribeReason =
      status === 'unsubscribed' ? (source === 'user' ? 'N/A (Unsubscribed by the contact)' : 'N/A (Unsubscribed by an admin)') : '';
    if (status === 'subscribed') {
      this.stampOptIn(member, input, source);
      this.emit('subscribe', source, list, member);
    } else if (status === 'unsubscribed') {
      this.emit('unsubscribe', source, list, member, { action: 'unsub', reason });
    } else if (status === 'cleaned') {
      // A bounced address can never be subscribed again through the API.
      member.lock = 'bounced';
      this.emit('cleaned', source, list, member, { reason: 'hard' });
    } else if (status === 'archived') {
      this.emit('unsubscribe', source, list, member, { action: 'delete', reason: 'manual' });
    }
  }

  /** DELETE: archives (405 for archived, pending and bounced members); the previous status is forgotten. */
  archive(list: StoredList, member: StoredMember, source: ChangeSource): void {
    this.checkPoison(member.email);
    if (member.status === 'archived' || member.status === 'pending' || member.status === 'cleaned') {
      throw methodNotAllowed(`This list member cannot be archived because it is ${member.status}.`);
    }
    this.setStatus(list, member, 'archived', source);
  }

  /** delete-permanent: gone (404 as if it never existed) and the address refused until a form sign-up. */
  deletePermanent(list: StoredList, member: StoredMember, source: ChangeSource): void {
    this.checkPoison(member.email);
    const hash = emailHash(member.email);
    list.members.delete(member.contactId);
    list.byHash.delete(hash);
    list.forgotten.add(hash);
    this.emit('unsubscribe', source, list, member, { action: 'delete', reason: 'manual' });
  }

  /** A sign-up through a Mailchimp form: creates or re-subscribes (the person's own act lifts every lock and tombstone). */
  formSignup(list: StoredList, email: string, merges: Record<string, MergeValue> = {}): StoredMember {
    const existing = this.find(list, email);
    const input: MemberInput = { email_address: email, merge_fields: merges, ip_opt: '203.0.113.7', ip_signup: '203.0.113.7' };
    if (!existing) {
      list.forgotten.delete(emailHash(email));
      const member = this.create(list, input, 'subscribed', { source: 'user' });
      member.ipSignup = '203.0.113.7';
      member.timestampSignup = member.timestampOpt;
      return member;
    }
    existing.lock = null;
    this.applyProfile(existing, input);
    if (existing.status === 'subscribed') {
      existing.lastChanged = this.now();
      this.emit('profile', 'user', list, existing);
    } else {
      this.setStatus(list, existing, 'subscribed', 'user', input);
    }
    return existing;
  }

  /** POST .../tags: `active` adds, `inactive` removes. */
  setTags(list: StoredList, member: StoredMember, tags: readonly { name: string; status: 'active' | 'inactive' }[]): void {
    this.checkPoison(member.email);
    for (const t of tags) this.tag(list, member, t.name, t.status === 'active');
    member.lastChanged = this.now();
  }

  /** Replaces all tags (batch subscribe's `sync_tags`). */
  syncTags(list: StoredList, member: StoredMember, names: readonly string[]): void {
    for (const name of [...member.tags.keys()]) if (!names.includes(name)) member.tags.delete(name);
    for (const name of names) this.tag(list, member, name, true);
  }

  checkPoison(email: string): void {
    if (this.poisoned.has(email.trim().toLowerCase())) {
      throw invalidResource(`${email} looks fake or invalid, please enter a real email address.`);
    }
  }

  /** The status rules for an explicit status write: compliance state, then churn. */
  checkStatusChange(member: StoredMember, target: WritableStatus): void {
    if (target !== 'subscribed') return;
    if (member.lock) throw complianceState(member.email);
    const now = this.now();
    const recent = member.statusChanges.filter((t) => now - t < this.options.churnWindowMs).length;
    if (recent >= this.options.churnFlips) throw tooManySignups(member.email);
  }

  private checkEmail(email: string): void {
    if (!isValidEmail(email)) {
      throw invalidResource('Please provide a valid email address.', [
        { field: 'email_address', message: 'This value should be a valid email address.' },
      ]);
    }
    this.checkPoison(email);
  }

  private validate(list: StoredList, input: MemberInput, creating: boolean, opts: WriteOptions): void {
    const errors: FieldError[] = [];
    const defs = new Map(list.seed.mergeFields.map((f) => [f.tag, f]));
    for (const [tag, value] of Object.entries(input.merge_fields ?? {})) {
      const def = defs.get(tag);
      if (!def) errors.push({ field: tag, message: `Merge field ${tag} does not exist on this list.` });
      else if (
        def.type === 'address' &&
        value !== '' &&
        (typeof value !== 'object' || !value.addr1 || !value.city || !value.state || !value.zip)
      ) {
        errors.push({ field: tag, message: 'Please enter a complete address.' });
      } else if (def.type === 'number' && value !== '' && Number.isNaN(Number(value))) {
        errors.push({ field: tag, message: 'Please enter a number.' });
      } else if (def.type !== 'address' && typeof value === 'object') {
        errors.push({ field: tag, message: 'Please enter a value, not an object.' });
      }
    }
    if (creating && !opts.skipMergeValidation) {
      for (const def of list.seed.mergeFields) {
        const v = input.merge_fields?.[def.tag];
        if (def.required && (v === undefined || v === '')) errors.push({ field: def.tag, message: 'Please enter a value' });
      }
    }
    if (errors.length > 0) throw invalidResource('Your merge fields were invalid.', errors);
    const interestIds = new Set(list.seed.interestCategories.flatMap((c) => c.interests.map((i) => i.id)));
    for (const id of Object.keys(input.interests ?? {})) if (!interestIds.has(id)) throw invalidResource(`Invalid interest ID: '${id}'.`);
    const permissionIds = new Set(list.seed.marketingPermissions.map((p) => p.id));
    for (const p of input.marketing_permissions ?? []) {
      if (!permissionIds.has(p.marketing_permission_id)) {
        throw invalidResource(`Invalid marketing permission ID: '${p.marketing_permission_id}'.`);
      }
    }
    if (input.timestamp_opt !== undefined) parseMailchimpTime(input.timestamp_opt, 'timestamp_opt');
    if (input.timestamp_signup !== undefined) parseMailchimpTime(input.timestamp_signup, 'timestamp_signup');
  }

  private applyProfile(member: StoredMember, input: MemberInput): void {
    for (const [tag, value] of Object.entries(input.merge_fields ?? {})) member.mergeFields[tag] = value;
    Object.assign(member.interests, input.interests ?? {});
    for (const p of input.marketing_permissions ?? []) member.permissions[p.marketing_permission_id] = p.enabled;
    if (input.language !== undefined) member.language = input.language;
    if (input.email_type !== undefined) member.emailType = input.email_type;
    if (input.vip !== undefined) member.vip = input.vip;
    if (input.ip_signup !== undefined) member.ipSignup = input.ip_signup;
    if (input.timestamp_signup !== undefined) member.timestampSignup = parseMailchimpTime(input.timestamp_signup, 'timestamp_signup');
  }

  private profileOf(m: StoredMember): unknown {
    return [
      m.mergeFields,
      m.interests,
      m.permissions,
      m.language,
      m.emailType,
      m.vip,
      m.ipSignup,
      m.timestampSignup,
      m.ipOpt,
      m.timestampOpt,
    ];
  }

  /**
   * The opt-in evidence of a subscription: what the call gave, else, for a person's own form
   * sign-up, its time. A marketer's or an API's subscription that gives none carries none ("").
   */
  private stampOptIn(member: StoredMember, input: MemberInput, source: ChangeSource): void {
    const given = input.timestamp_opt ? parseMailchimpTime(input.timestamp_opt, 'timestamp_opt') : null;
    member.timestampOpt = given ?? (source === 'user' ? this.now() : null);
    member.ipOpt = input.ip_opt ?? '';
  }

  private tag(list: StoredList, member: StoredMember, name: string, active: boolean): void {
    if (!active) {
      member.tags.delete(name);
      return;
    }
    if (member.tags.has(name)) return;
    let id = list.tagIds.get(name);
    if (id === undefined) {
      id = 1000 + list.tagIds.size;
      list.tagIds.set(name, id);
    }
    member.tags.set(name, { id, name, dateAdded: this.now() });
  }

  private emit(
    type: MemberChange['type'],
    source: ChangeSource,
    list: StoredList,
    member: StoredMember,
    extra: Record<string, string> = {},
  ): void {
    this.onChange({ type, source, list, member, at: this.now(), extra });
  }
}
