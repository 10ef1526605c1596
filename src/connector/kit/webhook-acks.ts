/**
 * Webhook acknowledgement bookkeeping. Sources deliver at least once: a delivery's source ids
 * (HubSpot event ids, Salesforce notification ids) count as handled only once the engine has
 * safely enqueued the events they produced (the connector's `reply`), so a delivery that failed
 * half-way is processed again when the source retries, and a redelivery of a handled one is
 * dropped. Memory is bounded both ways: the oldest handled ids and the oldest pending events
 * are forgotten first (a forgotten pending event is merely processed again if redelivered).
 */
import { RecentIds } from './recent-ids.js';

export interface WebhookAcksOptions {
  /** How many handled source ids to remember. */
  capacity: number;
  /**
   * How many events may wait for their acknowledgement.
   * @defaultValue 10_000
   */
  maxPending?: number;
}

export class WebhookAcks<Id extends string | number> {
  private readonly handled: RecentIds<Id>;
  /** Event id -> the source ids it carries, until the event is acknowledged. */
  private readonly pending = new Map<string, readonly Id[]>();
  /** Source ids that produced no event: handled at the next acknowledgement. */
  private readonly eventless = new Set<Id>();
  private readonly maxPending: number;

  constructor(options: WebhookAcksOptions) {
    this.handled = new RecentIds<Id>(options.capacity);
    this.maxPending = options.maxPending ?? 10_000;
  }

  /** The items whose source id was not handled yet (a redelivery of handled ones is dropped). */
  fresh<T>(items: readonly T[], idOf: (item: T) => Id): T[] {
    return items.filter((item) => !this.handled.has(idOf(item)));
  }

  /**
   * For senders whose event id is the source id (Mailchimp, Segment): the events not handled
   * yet, each expected under its own id.
   */
  freshEvents<E extends { eventId: string }>(this: WebhookAcks<string>, events: readonly E[]): E[] {
    const fresh = this.fresh(events, (e) => e.eventId);
    for (const e of fresh) this.expect(e.eventId, [e.eventId]);
    return fresh;
  }

  /** An event parsed from these source ids: they are handled once it is acknowledged. */
  expect(eventId: string, sourceIds: readonly Id[]): void {
    this.pending.delete(eventId);
    this.pending.set(eventId, sourceIds);
    while (this.pending.size > this.maxPending) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
  }

  /** Source ids that produced no event (nothing to read): handled as soon as a delivery is acknowledged. */
  expectNoEvent(sourceIds: readonly Id[]): void {
    for (const id of sourceIds) this.eventless.add(id);
    while (this.eventless.size > this.maxPending) {
      const oldest = this.eventless.values().next();
      if (oldest.done) break;
      this.eventless.delete(oldest.value);
    }
  }

  /** The events are safely enqueued: their source ids (and eventless ones) are handled now. */
  acknowledge(eventIds: readonly string[]): void {
    for (const eventId of eventIds) {
      this.handled.remember(this.pending.get(eventId) ?? []);
      this.pending.delete(eventId);
    }
    this.handled.remember([...this.eventless]);
    this.eventless.clear();
  }
}
