/**
 * The emulator's in-memory HubSpot account: contacts, their properties and the e-mail
 * subscription statuses. Every change bumps `lastmodifieddate` and is announced as a webhook,
 * whoever made it (the API or the side door), as HubSpot does.
 */
import type { HubSpotEmulatorOptions } from './options.js';
import { propertyValidation, type PropertyValidation } from './errors.js';
import type { ChangeNotice } from './webhook-sender.js';

export type StatusState = 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NOT_SPECIFIED';
export const LEGAL_BASES = [
  'LEGITIMATE_INTEREST_PQL',
  'LEGITIMATE_INTEREST_CLIENT',
  'PERFORMANCE_OF_CONTRACT',
  'CONSENT_WITH_NOTICE',
  'NON_GDPR',
  'PROCESS_AND_STORE',
  'LEGITIMATE_INTEREST_OTHER',
] as const;
export type HubSpotLegalBasis = (typeof LEGAL_BASES)[number];

export interface StoredContact {
  id: string;
  properties: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  archived: boolean;
  archivedAt?: number;
  /**
   * Each property's values, newest first, as `propertiesWithHistory` returns them: a value, when
   * it was set and by whom. A write that leaves a value as it was adds nothing.
   */
  history: Record<string, PropertyVersion[]>;
}

/** One version of a property (HubSpot's `ValueWithTimestamp`). */
export interface PropertyVersion {
  value: string;
  timestamp: number;
  sourceType: string;
  sourceId?: string;
}

export interface StoredStatus {
  subscriptionId: number;
  status: StatusState;
  legalBasis: HubSpotLegalBasis | null;
  legalBasisExplanation: string | null;
  source: string;
  timestamp: number;
}

export interface SubscriptionDefinition {
  id: number;
  name: string;
  description: string;
  purpose: string;
  createdAt: number;
  updatedAt: number;
}

/** Who made a change, as HubSpot reports it in webhooks (`changeSource`, `sourceId`). */
export interface ChangeOrigin {
  changeSource: string;
  sourceId?: string;
  /** Free-text source recorded on subscription statuses. */
  statusSource: string;
}

/** HubSpot's default contact properties (a representative subset) that the emulator knows, with their labels. */
const DEFAULT_PROPERTY_LABELS: Record<string, string> = {
  email: 'Email',
  firstname: 'First Name',
  lastname: 'Last Name',
  phone: 'Phone Number',
  mobilephone: 'Mobile Phone Number',
  company: 'Company Name',
  jobtitle: 'Job Title',
  website: 'Website URL',
  address: 'Street Address',
  city: 'City',
  state: 'State/Region',
  zip: 'Postal Code',
  country: 'Country/Region',
  hs_language: 'Preferred language',
  lifecyclestage: 'Lifecycle Stage',
  date_of_birth: 'Date of birth',
  hs_email_optout: 'Unsubscribed from all email',
  hs_additional_emails: 'Additional email addresses',
  hs_merged_object_ids: 'Merged Record IDs',
  hs_object_id: 'Record ID',
  createdate: 'Create Date',
  lastmodifieddate: 'Last Modified Date',
};
const DEFAULT_PROPERTIES = Object.keys(DEFAULT_PROPERTY_LABELS);

/** A contact property's definition (`GET /crm/v3/properties/contacts`). */
export interface PropertyDefinition {
  name: string;
  label: string;
  readOnlyValue: boolean;
  hubspotDefined: boolean;
}
/** Versions kept per property (HubSpot keeps many; a read needs the newest). */
const HISTORY_KEPT = 20;
const READ_ONLY = new Set(['hs_object_id', 'createdate', 'lastmodifieddate', 'hs_additional_emails', 'hs_merged_object_ids']);
/** What reads return when no properties are asked for. */
export const DEFAULT_READ_PROPERTIES = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function isValidEmail(value: string): boolean {
  return EMAIL.test(value);
}

const iso = (ms: number): string => new Date(ms).toISOString();

export type PropertyInput = Record<string, string | number | boolean | null>;

/** The `changeSource` of writes through the API (an app's token), as opposed to the UI. */
export const API_CHANGE_SOURCE = 'INTEGRATION';

/** An API write that changed nothing: the contact id, or `email/subscription:<id>` for a status. */
export interface IdleWrite {
  target: string;
  at: number;
  /**
   * A status someone else set after the app last read it through the API: the person and the
   * app made the same choice at once, between the app's read and its write (no API can make
   * that write conditional), not the app writing back what HubSpot had told it.
   */
  crossed?: boolean;
}

export class ContactConflictError extends Error {
  constructor(readonly existingId: string) {
    super(`Contact already exists. Existing ID: ${existingId}`);
  }
}

export class HubSpotState {
  readonly contacts = new Map<string, StoredContact>();
  private readonly byEmail = new Map<string, string>();
  /** Ids of contacts merged away -> the id they were merged into. */
  private readonly mergedInto = new Map<string, string>();
  /** e-mail -> subscription id -> status. Statuses belong to the address, not the contact. */
  readonly statuses = new Map<string, Map<number, StoredStatus>>();
  readonly definitions: SubscriptionDefinition[];
  /** Addresses blocklisted by a GDPR delete. */
  readonly blocklist = new Set<string>();
  /** Addresses every write refuses as invalid (a test hook for permanently rejected records). */
  readonly poisoned = new Set<string>();
  private readonly knownProperties: Set<string>;
  private nextId = 101;
  /**
   * Writes through the API that changed nothing (every property and status already held the
   * value written): a hub that writes back what a system already holds shows up here.
   */
  readonly idleWrites: IdleWrite[] = [];
  /** When the API last read each address's statuses (for `IdleWrite.crossed`). */
  private readonly statusesReadSeq = new Map<string, number>();
  /**
   * Order of status reads and changes (a counter, not the clock: a person's change in the same
   * millisecond as the app's read still comes after it).
   */
  private statusEvents = 0;
  /** When (`statusEvents`) each `address/subscriptionId` status last changed. */
  private readonly statusChangedSeq = new Map<string, number>();

  constructor(
    private readonly options: HubSpotEmulatorOptions,
    private readonly now: () => number,
    private readonly notify: (change: ChangeNotice) => void,
  ) {
    const t = now();
    this.definitions = options.subscriptionDefinitions.map((d) => ({ ...d, createdAt: t, updatedAt: t }));
    this.knownProperties = new Set([
      ...DEFAULT_PROPERTIES,
      ...options.extraProperties,
      ...this.definitions.map((d) => `hs_email_optout_${d.id}`),
    ]);
  }

  /** The contact properties the account defines: HubSpot's defaults, the account's own, one opt-out per subscription type. */
  propertyDefinitions(): PropertyDefinition[] {
    return [...this.knownProperties].map((name) => {
      const optout = /^hs_email_optout_(\d+)$/.exec(name);
      const definition = optout ? this.definition(Number(optout[1])) : undefined;
      const label = DEFAULT_PROPERTY_LABELS[name] ?? (definition ? `Opted out of email: ${definition.name}` : name);
      return {
        name,
        label,
        readOnlyValue: READ_ONLY.has(name),
        hubspotDefined: name in DEFAULT_PROPERTY_LABELS || definition !== undefined,
      };
    });
  }

  isKnownProperty(name: string): boolean {
    return this.knownProperties.has(name);
  }

  definition(id: number): SubscriptionDefinition | undefined {
    return this.definitions.find((d) => d.id === id);
  }

  /** Follows merges: the id a request for `id` resolves to, or undefined. */
  resolveId(id: string): string | undefined {
    let current = id;
    for (let i = 0; i < 10; i++) {
      if (this.contacts.has(current)) return current;
      const next = this.mergedInto.get(current);
      if (!next) return undefined;
      current = next;
    }
    return undefined;
  }

  get(id: string, archived = false): StoredContact | undefined {
    const c = this.contacts.get(id);
    if (!c || c.archived !== archived) return undefined;
    return c;
  }

  findByEmail(email: string): StoredContact | undefined {
    const id = this.byEmail.get(email.trim().toLowerCase());
    return id ? this.get(id) : undefined;
  }

  /** Live contacts in id order. */
  list(): StoredContact[] {
    return [...this.contacts.values()].filter((c) => !c.archived).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Checks property names and values without writing; an empty list means valid. */
  validate(props: PropertyInput): PropertyValidation[] {
    const problems: PropertyValidation[] = [];
    for (const [name, value] of Object.entries(props)) {
      if (!this.knownProperties.has(name)) {
        problems.push(propertyValidation('PROPERTY_DOESNT_EXIST', name, `Property "${name}" does not exist`));
      } else if (READ_ONLY.has(name)) {
        problems.push(propertyValidation('READ_ONLY_VALUE', name, `"${name}" is a read only property; its value cannot be set.`));
      } else if (
        name === 'email' &&
        value !== null &&
        value !== '' &&
        (!isValidEmail(String(value)) || this.poisoned.has(String(value).trim().toLowerCase()))
      ) {
        problems.push(propertyValidation('INVALID_EMAIL', name, `Email address ${String(value)} is invalid`));
      }
    }
    return problems;
  }

  /** Creates a contact (properties already validated). */
  create(props: PropertyInput, origin: ChangeOrigin): StoredContact {
    const email = typeof props.email === 'string' ? props.email.trim().toLowerCase() : undefined;
    if (email) {
      const existing = this.findByEmail(email);
      if (existing) throw new ContactConflictError(existing.id);
    }
    const t = this.now();
    const id = String(this.nextId++);
    const contact: StoredContact = {
      id,
      properties: { hs_object_id: id, createdate: iso(t), lastmodifieddate: iso(t) },
      createdAt: t,
      updatedAt: t,
      archived: false,
      history: {},
    };
    this.contacts.set(id, contact);
    this.notify({ subscriptionType: 'contact.creation', objectId: Number(id), occurredAt: t, ...this.originFields(origin) });
    // The values set with the contact carry its creation time: one moment for the contact and them.
    this.applyProperties(contact, props, origin, t);
    return contact;
  }

  /** Sets properties on a contact; returns whether anything changed. */
  update(contact: StoredContact, props: PropertyInput, origin: ChangeOrigin): boolean {
    const email = typeof props.email === 'string' ? props.email.trim().toLowerCase() : undefined;
    if (email) {
      const other = this.findByEmail(email);
      if (other && other.id !== contact.id) throw new ContactConflictError(other.id);
    }
    return this.applyProperties(contact, props, origin);
  }

  archive(contact: StoredContact, origin: ChangeOrigin): void {
    const t = this.now();
    contact.archived = true;
    contact.archivedAt = t;
    this.unindexEmail(contact);
    this.notify({ subscriptionType: 'contact.deletion', objectId: Number(contact.id), occurredAt: t, ...this.originFields(origin) });
  }

  /** Permanently deletes a contact and what HubSpot holds on the address; the address is blocklisted. */
  gdprDelete(contact: StoredContact, origin: ChangeOrigin): void {
    const t = this.now();
    const emails = this.emailsOf(contact);
    this.unindexEmail(contact);
    this.contacts.delete(contact.id);
    for (const email of emails) {
      this.statuses.delete(email);
      this.blocklist.add(email);
    }
    this.notify({ subscriptionType: 'contact.privacyDeletion', objectId: Number(contact.id), occurredAt: t, ...this.originFields(origin) });
  }

  /** Merges `secondary` into `primary`: the primary's values win, blanks are filled from the secondary. */
  merge(primary: StoredContact, secondary: StoredContact, origin: ChangeOrigin): StoredContact {
    const t = this.now();
    let moved = 0;
    for (const [name, value] of Object.entries(secondary.properties)) {
      if (READ_ONLY.has(name) || name === 'email') continue;
      if (primary.properties[name] === undefined) {
        primary.properties[name] = value;
        primary.history[name] = secondary.history[name] ?? [];
        moved += 1;
      }
    }
    const secondaryEmail = secondary.properties.email;
    this.unindexEmail(secondary);
    this.contacts.delete(secondary.id);
    this.mergedInto.set(secondary.id, primary.id);
    // The ids merged into the primary, its own earlier merges' included (HubSpot's `hs_merged_object_ids`).
    const merged = [primary, secondary].flatMap((c) => c.properties.hs_merged_object_ids?.split(';').filter(Boolean) ?? []);
    primary.properties.hs_merged_object_ids = [...merged, secondary.id].join(';');
    if (secondaryEmail) {
      const additional = primary.properties.hs_additional_emails?.split(';').filter(Boolean) ?? [];
      primary.properties.hs_additional_emails = [...additional, secondaryEmail].join(';');
      this.byEmail.set(secondaryEmail, primary.id);
    }
    primary.updatedAt = t;
    primary.properties.lastmodifieddate = iso(t);
    this.notify({
      subscriptionType: 'contact.merge',
      objectId: Number(primary.id),
      occurredAt: t,
      ...this.originFields(origin),
      primaryObjectId: Number(primary.id),
      mergedObjectIds: [Number(secondary.id)],
      newObjectId: Number(primary.id),
      numberOfPropertiesMoved: moved,
    });
    return primary;
  }

  /** The status of one address for every definition (NOT_SPECIFIED where none was set). */
  /** The API read these statuses now. */
  noteStatusesRead(email: string): void {
    this.statusesReadSeq.set(email.trim().toLowerCase(), ++this.statusEvents);
  }

  statusesOf(email: string): StoredStatus[] {
    const own = this.statuses.get(email.trim().toLowerCase());
    return this.definitions.map(
      (d) =>
        own?.get(d.id) ?? {
          subscriptionId: d.id,
          status: 'NOT_SPECIFIED',
          legalBasis: null,
          legalBasisExplanation: null,
          source: 'Default',
          timestamp: d.createdAt,
        },
    );
  }

  /**
   * Sets one subscription status. It also sets the contact's `hs_email_optout_<id>` property,
   * which bumps `lastmodifieddate` and sends a `contact.propertyChange`, as in HubSpot.
   */
  setStatus(
    email: string,
    subscriptionId: number,
    status: StatusState,
    legalBasis: HubSpotLegalBasis | null,
    legalBasisExplanation: string | null,
    origin: ChangeOrigin,
  ): { status: StoredStatus; reason: 'RESUBSCRIBE_OCCURRED' | 'NO_STATUS_CHANGE' | 'REQUESTED_CHANGE_OCCURRED' } {
    const address = email.trim().toLowerCase();
    const previous = this.statusesOf(address).find((s) => s.subscriptionId === subscriptionId);
    if (previous && previous.status === status && previous.legalBasis === legalBasis) {
      if (origin.changeSource === API_CHANGE_SOURCE) {
        const changedSeq = this.statusChangedSeq.get(`${address}/${subscriptionId}`) ?? Number.NEGATIVE_INFINITY;
        const crossed =
          previous.source !== origin.statusSource && changedSeq > (this.statusesReadSeq.get(address) ?? Number.NEGATIVE_INFINITY);
        this.idleWrites.push({ target: `${address}/subscription:${subscriptionId}`, at: this.now(), ...(crossed ? { crossed } : {}) });
        // The answer tells the app the status: writing it again is no longer a crossing.
        this.noteStatusesRead(address);
      }
      return { status: previous, reason: 'NO_STATUS_CHANGE' };
    }
    const t = this.now();
    const stored: StoredStatus = { subscriptionId, status, legalBasis, legalBasisExplanation, source: origin.statusSource, timestamp: t };
    let own = this.statuses.get(address);
    if (!own) {
      own = new Map();
      this.statuses.set(address, own);
    }
    own.set(subscriptionId, stored);
    this.statusChangedSeq.set(`${address}/${subscriptionId}`, ++this.statusEvents);
    const contact = this.findByEmail(address);
    if (contact) {
      const optout = status === 'UNSUBSCRIBED' ? 'true' : status === 'SUBSCRIBED' ? 'false' : null;
      const property = `hs_email_optout_${subscriptionId}`;
      // Only a new legal basis: the status changed, its mirror property did not (no idle write of the contact).
      if ((contact.properties[property] ?? '') !== (optout ?? '')) this.applyProperties(contact, { [property]: optout }, origin);
    }
    const reason = previous?.status === 'UNSUBSCRIBED' && status === 'SUBSCRIBED' ? 'RESUBSCRIBE_OCCURRED' : 'REQUESTED_CHANGE_OCCURRED';
    return { status: stored, reason };
  }

  /** The properties a read returns: the asked ones (null when unset) or HubSpot's default set. */
  readProperties(contact: StoredContact, asked: readonly string[] | undefined): Record<string, string | null> {
    const names = asked && asked.length > 0 ? [...asked, 'hs_object_id', 'createdate', 'lastmodifieddate'] : DEFAULT_READ_PROPERTIES;
    const out: Record<string, string | null> = {};
    for (const name of names) {
      if (!this.knownProperties.has(name)) continue;
      out[name] = contact.properties[name] ?? null;
    }
    return out;
  }

  /** The versions of the asked properties the contact has (newest first), for `propertiesWithHistory`. */
  readHistory(contact: StoredContact, asked: readonly string[]): Record<string, PropertyVersion[]> {
    const out: Record<string, PropertyVersion[]> = {};
    for (const name of asked) {
      if (!this.knownProperties.has(name)) continue;
      out[name] = contact.history[name] ?? [];
    }
    return out;
  }

  /** `createdAt`: the properties come with the contact's creation, at that time. */
  private applyProperties(contact: StoredContact, props: PropertyInput, origin: ChangeOrigin, createdAt?: number): boolean {
    const creating = createdAt !== undefined;
    const t = createdAt ?? this.now();
    const changed: [string, string][] = [];
    for (const [name, raw] of Object.entries(props)) {
      let value = raw === null ? '' : String(raw);
      if (name === 'email') value = value.trim().toLowerCase();
      const before = contact.properties[name] ?? '';
      if (before === value) continue;
      if (name === 'email') {
        this.unindexEmail(contact);
        if (value) this.byEmail.set(value, contact.id);
      }
      if (value === '') delete contact.properties[name];
      else contact.properties[name] = value;
      const version: PropertyVersion = {
        value,
        timestamp: t,
        sourceType: origin.changeSource,
        ...(origin.sourceId === undefined ? {} : { sourceId: origin.sourceId }),
      };
      contact.history[name] = [version, ...(contact.history[name] ?? [])].slice(0, HISTORY_KEPT);
      changed.push([name, value]);
    }
    if (changed.length === 0) {
      if (!creating && origin.changeSource === API_CHANGE_SOURCE) this.idleWrites.push({ target: contact.id, at: t });
      return false;
    }
    if (!creating) {
      contact.updatedAt = t;
      contact.properties.lastmodifieddate = iso(t);
    }
    const subscribed = this.options.webhookProperties;
    for (const [name, value] of changed) {
      if (subscribed && !subscribed.includes(name)) continue;
      this.notify({
        subscriptionType: 'contact.propertyChange',
        objectId: Number(contact.id),
        occurredAt: t,
        propertyName: name,
        propertyValue: value,
        ...this.originFields(origin),
      });
    }
    return true;
  }

  private emailsOf(contact: StoredContact): string[] {
    const emails = [contact.properties.email, ...(contact.properties.hs_additional_emails?.split(';') ?? [])];
    return emails.filter((e): e is string => typeof e === 'string' && e.length > 0);
  }

  private unindexEmail(contact: StoredContact): void {
    for (const email of this.emailsOf(contact)) {
      if (this.byEmail.get(email) === contact.id) this.byEmail.delete(email);
    }
  }

  private originFields(origin: ChangeOrigin): { changeSource: string; sourceId?: string } {
    return origin.sourceId === undefined
      ? { changeSource: origin.changeSource }
      : { changeSource: origin.changeSource, sourceId: origin.sourceId };
  }
}
