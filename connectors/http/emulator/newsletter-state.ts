/**
 * The newsletter tool's subscribers: upserted in batches through the API (by `subscriber_id`, else
 * by `email_address`, created when unknown), edited by a user, deleted. `modified` is the write's
 * time in whole seconds, so several writes share it: lists are ordered by `(modified,
 * subscriber_id)`. Every write is announced (`subscriber.changed`), the API's included.
 */
import { z } from 'zod';
import { compareIds, invalidFrom, normalEmail, RecordError, type PoisonList } from './records.js';
import type { WriteOrigin } from './crm-state.js';

export const SUBSCRIBER_STATUSES = ['subscribed', 'unsubscribed'] as const;

export interface Subscriber {
  subscriber_id: string;
  email_address: string;
  name: { first: string; last: string };
  status: (typeof SUBSCRIBER_STATUSES)[number];
  lists: { weekly: boolean; offers: boolean };
  /** Epoch seconds of the last write. */
  modified: number;
}

/** The writable fields of a subscriber (a batch operation's, a user's edit). */
export const SubscriberFields = z
  .object({
    email_address: z.email(),
    name: z.object({ first: z.string(), last: z.string() }).partial().strict(),
    status: z.enum(SUBSCRIBER_STATUSES),
    lists: z.object({ weekly: z.boolean(), offers: z.boolean() }).partial().strict(),
  })
  .partial()
  .strict();
export type SubscriberFields = z.infer<typeof SubscriberFields>;

/** One operation of `POST /subscribers/batch`. */
export const BatchOperation = SubscriberFields.extend({ ref: z.string(), subscriber_id: z.string().min(1).optional() }).strict();

/** What one upsert did. */
export interface UpsertOutcome {
  subscriber: Subscriber;
  created: boolean;
}

const copy = (s: Subscriber): Subscriber => ({ ...s, name: { ...s.name }, lists: { ...s.lists } });

export class NewsletterState {
  private readonly subscribers = new Map<string, Subscriber>();
  private nextId = 1;

  constructor(
    private readonly now: () => number,
    private readonly poisoned: PoisonList,
    private readonly announce: (subscriberId: string) => void,
  ) {}

  get(id: string): Subscriber {
    const s = this.subscribers.get(id);
    if (!s) throw new RecordError('not_found', `no subscriber ${id}`);
    return copy(s);
  }

  byEmail(email: string): Subscriber | undefined {
    const wanted = normalEmail(email);
    const found = [...this.subscribers.values()].find((s) => normalEmail(s.email_address) === wanted);
    return found ? copy(found) : undefined;
  }

  /** Subscribers with `modified >= modifiedAfter`, of this address, in `(modified, subscriber_id)` order. */
  list(filter: { modifiedAfter?: number; email?: string } = {}): Subscriber[] {
    const email = filter.email === undefined ? undefined : normalEmail(filter.email);
    return [...this.subscribers.values()]
      .filter(
        (s) =>
          (filter.modifiedAfter === undefined || s.modified >= filter.modifiedAfter) &&
          (email === undefined || normalEmail(s.email_address) === email),
      )
      .sort((a, b) => a.modified - b.modified || compareIds(a.subscriber_id, b.subscriber_id))
      .map(copy);
  }

  /** One batch operation: an update by `subscriber_id` when given, else an upsert by `email_address`. */
  upsert(operation: unknown, origin: WriteOrigin): UpsertOutcome {
    const parsed = BatchOperation.safeParse(operation);
    if (!parsed.success) throw invalidFrom(parsed.error, 'operation');
    const { ref: _ref, subscriber_id: id, ...fields } = parsed.data;
    if (id !== undefined) return { subscriber: this.update(id, fields, origin), created: false };
    if (fields.email_address === undefined)
      throw new RecordError('invalid', 'email_address or subscriber_id is required', { field: 'email_address' });
    const existing = this.byEmail(fields.email_address);
    if (existing) return { subscriber: this.update(existing.subscriber_id, fields, origin), created: false };
    return { subscriber: this.create({ ...fields, email_address: fields.email_address }, origin), created: true };
  }

  create(fields: SubscriberFields & { email_address: string }, origin: WriteOrigin): Subscriber {
    if (origin === 'api') this.poisoned.check(fields.email_address, 'email_address');
    if (this.byEmail(fields.email_address)) throw new RecordError('duplicate', 'a subscriber with this email_address exists');
    const subscriber: Subscriber = {
      subscriber_id: `s${this.nextId++}`,
      email_address: fields.email_address,
      name: { first: fields.name?.first ?? '', last: fields.name?.last ?? '' },
      // Nobody is subscribed unless a write says so.
      status: fields.status ?? 'unsubscribed',
      lists: { weekly: fields.lists?.weekly ?? false, offers: fields.lists?.offers ?? false },
      modified: this.seconds(),
    };
    this.subscribers.set(subscriber.subscriber_id, subscriber);
    this.announce(subscriber.subscriber_id);
    return copy(subscriber);
  }

  update(id: string, input: unknown, origin: WriteOrigin): Subscriber {
    const subscriber = this.subscribers.get(id);
    if (!subscriber) throw new RecordError('not_found', `no subscriber ${id}`);
    const parsed = SubscriberFields.safeParse(input);
    if (!parsed.success) throw invalidFrom(parsed.error, 'operation');
    const { name, lists, ...fields } = parsed.data;
    const email = fields.email_address ?? subscriber.email_address;
    if (origin === 'api') this.poisoned.check(email, 'email_address');
    const holder = this.byEmail(email);
    if (holder && holder.subscriber_id !== id) throw new RecordError('duplicate', 'a subscriber with this email_address exists');
    Object.assign(subscriber, fields, {
      name: { ...subscriber.name, ...name },
      lists: { ...subscriber.lists, ...lists },
      modified: this.seconds(),
    });
    this.announce(id);
    return copy(subscriber);
  }

  delete(id: string): void {
    if (!this.subscribers.delete(id)) throw new RecordError('not_found', `no subscriber ${id}`);
    this.announce(id);
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}
