/**
 * The CRM's contacts: created, edited and deleted through the API or by a user, each write
 * stamped with an `updated_at` strictly later than the previous write's (one millisecond on when
 * the clock has not moved), so `(updated_at, id)` paging never skips or repeats a write. Every
 * write is announced (`contact.created|updated|deleted`), the API's writes included.
 */
import { z } from 'zod';
import { compareIds, invalidFrom, normalEmail, RecordError, type PoisonList } from './records.js';

export interface Consents {
  email_marketing: boolean | null;
  sms_marketing: boolean | null;
}

export interface Contact {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  consents: Consents;
  newsletter: boolean;
  created_at: string;
  /** ISO with milliseconds; strictly increasing across the CRM's writes. */
  updated_at: string;
}

/** A line of the contact's activity, in its export. */
export interface ContactNote {
  at: string;
  text: string;
}

/** The writable fields of a contact (a PATCH's `data`, a create's with `email` required). */
export const ContactFields = z
  .object({
    email: z.email(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    phone: z.string().nullable(),
    consents: z.object({ email_marketing: z.boolean().nullable(), sms_marketing: z.boolean().nullable() }).partial().strict(),
    newsletter: z.boolean(),
  })
  .partial()
  .strict();
export type ContactFields = z.infer<typeof ContactFields>;
const NewContact = ContactFields.required({ email: true });

export type ContactEvent = { type: 'contact.created' | 'contact.updated'; contact: Contact } | { type: 'contact.deleted'; id: string };

/** Who made a write: the API (poisoned addresses refused) or a user in the CRM's UI. */
export type WriteOrigin = 'api' | 'user';

/** Where a page of contacts starts: after this `(updated_at, id)`. */
export interface ContactPosition {
  updatedAt: string;
  id: string;
}

const copy = (c: Contact): Contact => ({ ...c, consents: { ...c.consents } });

export class CrmState {
  private readonly contacts = new Map<string, Contact>();
  private readonly notes = new Map<string, ContactNote[]>();
  private nextId = 1;
  private lastWrite = 0;

  constructor(
    private readonly now: () => number,
    private readonly poisoned: PoisonList,
    private readonly announce: (event: ContactEvent) => void,
  ) {}

  get(id: string): Contact {
    const c = this.contacts.get(id);
    if (!c) throw new RecordError('not_found', `no contact ${id}`);
    return copy(c);
  }

  byEmail(email: string): Contact | undefined {
    const wanted = normalEmail(email);
    const found = [...this.contacts.values()].find((c) => normalEmail(c.email) === wanted);
    return found ? copy(found) : undefined;
  }

  /** Every contact in `(updated_at, id)` order. */
  all(): Contact[] {
    return [...this.contacts.values()].sort(byPosition).map(copy);
  }

  /** Contacts with `updated_at >= since`, after `after`, of this address and phone number, in `(updated_at, id)` order. */
  list(filter: { since?: string; after?: ContactPosition; email?: string; phone?: string }): Contact[] {
    const since = filter.since === undefined ? undefined : Date.parse(filter.since);
    const email = filter.email === undefined ? undefined : normalEmail(filter.email);
    const after = filter.after;
    return this.all().filter(
      (c) =>
        (since === undefined || Date.parse(c.updated_at) >= since) &&
        (email === undefined || normalEmail(c.email) === email) &&
        (filter.phone === undefined || c.phone === filter.phone) &&
        (after === undefined || byPosition(c, { updated_at: after.updatedAt, id: after.id }) > 0),
    );
  }

  notesOf(id: string): ContactNote[] {
    this.get(id);
    return (this.notes.get(id) ?? []).map((n) => ({ ...n }));
  }

  create(input: unknown, origin: WriteOrigin): Contact {
    const parsed = NewContact.safeParse(input);
    if (!parsed.success) throw invalidFrom(parsed.error, 'email');
    const fields = parsed.data;
    if (origin === 'api') this.poisoned.check(fields.email, 'email');
    const existing = this.byEmail(fields.email);
    if (existing) throw new RecordError('duplicate', 'a contact with this email exists', { existingId: existing.id });
    const at = this.stamp();
    const contact: Contact = {
      id: `c_${this.nextId++}`,
      email: fields.email,
      first_name: fields.first_name ?? null,
      last_name: fields.last_name ?? null,
      phone: fields.phone ?? null,
      consents: { email_marketing: fields.consents?.email_marketing ?? null, sms_marketing: fields.consents?.sms_marketing ?? null },
      newsletter: fields.newsletter ?? false,
      created_at: at,
      updated_at: at,
    };
    this.contacts.set(contact.id, contact);
    this.note(contact.id, at, `created ${origin === 'api' ? 'through the API' : 'by a user'}`);
    this.announce({ type: 'contact.created', contact: copy(contact) });
    return copy(contact);
  }

  /** Applies a partial edit (consents merged key by key). */
  update(id: string, input: unknown, origin: WriteOrigin): Contact {
    const contact = this.contacts.get(id);
    if (!contact) throw new RecordError('not_found', `no contact ${id}`);
    const parsed = ContactFields.safeParse(input);
    if (!parsed.success) throw invalidFrom(parsed.error, 'data');
    const { consents, ...fields } = parsed.data;
    const email = fields.email ?? contact.email;
    if (origin === 'api') this.poisoned.check(email, 'email');
    const holder = this.byEmail(email);
    if (holder && holder.id !== id) throw new RecordError('duplicate', 'a contact with this email exists', { existingId: holder.id });
    const at = this.stamp();
    Object.assign(contact, fields, { consents: { ...contact.consents, ...consents }, updated_at: at });
    const changed = [...Object.keys(fields), ...Object.keys(consents ?? {}).map((k) => `consents.${k}`)];
    this.note(id, at, `updated ${origin === 'api' ? 'through the API' : 'by a user'} (${changed.join(', ') || 'no field'})`);
    this.announce({ type: 'contact.updated', contact: copy(contact) });
    return copy(contact);
  }

  delete(id: string): void {
    if (!this.contacts.delete(id)) throw new RecordError('not_found', `no contact ${id}`);
    this.notes.delete(id);
    this.stamp();
    this.announce({ type: 'contact.deleted', id });
  }

  /** The time of a write: now, or one millisecond after the previous write when the clock has not moved past it. */
  private stamp(): string {
    this.lastWrite = Math.max(this.now(), this.lastWrite + 1);
    return new Date(this.lastWrite).toISOString();
  }

  private note(id: string, at: string, text: string): void {
    this.notes.set(id, [...(this.notes.get(id) ?? []), { at, text }]);
  }
}

function byPosition(a: Pick<Contact, 'updated_at' | 'id'>, b: Pick<Contact, 'updated_at' | 'id'>): number {
  return Date.parse(a.updated_at) - Date.parse(b.updated_at) || compareIds(a.id, b.id);
}
