/**
 * The side door: what users do in either system's UI (a contact created, edited or deleted in the
 * CRM; a subscriber created or edited in the newsletter tool), each of which sends that system's
 * webhook; what the `concord-events` inboxes received and how they answer; the webhook controls
 * spanning both systems' senders; the emulator's views. Also served over HTTP under `/_emulator/`.
 *
 * `userChange(email)` (the conformance suite's) creates a CRM contact. The kit's `setWebhookUrl`
 * sets the CRM's URL unless a system is named.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  EmulatorSideDoor,
  SIDE_DOOR_PREFIX,
  SideDoorError,
  sideDoorAction,
  type CallLedger,
} from '../../../src/connector/emulator-kit/index.js';
import type { Contact, ContactNote, CrmState } from './crm-state.js';
import type { Inbox, InboxMessage } from './inbox.js';
import type { NewsletterState, Subscriber } from './newsletter-state.js';
import { HTTP_SYSTEMS, WebhookSecret, type HttpSystem } from './options.js';
import { RecordError, type PoisonList } from './records.js';
import type { StandardWebhookSender, WebhookDelivery, WebhookMessage } from './webhook-sender.js';

/** What the side door works on. */
export interface HttpSystems {
  crm: CrmState;
  newsletter: NewsletterState;
  senders: Record<HttpSystem, StandardWebhookSender>;
  inboxes: Record<HttpSystem, Inbox>;
  poisoned: PoisonList;
}

/** Where a system's webhooks go, and whether that URL answered 410 (nothing is sent to it). */
export interface WebhookEndpointView {
  url: string | undefined;
  disabled: boolean;
}

/** A refused user action becomes a `SideDoorError` (HTTP 400 over the side door). */
function asUser<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof RecordError) throw new SideDoorError(e.message);
    throw e;
  }
}

export class HttpSideDoor extends EmulatorSideDoor<WebhookMessage, string, WebhookDelivery> {
  constructor(
    ledger: CallLedger,
    private readonly systems: HttpSystems,
  ) {
    super(ledger, systems.senders.crm.loop);
  }

  /** Every API write of this address fails from now on (CRM 422 `invalid`, newsletter result error `invalid`). */
  poison(email: string): void {
    this.systems.poisoned.add(email);
  }

  /** A user creates a CRM contact with this address (which sends `contact.created`). */
  userChange(email: string): Contact {
    return asUser(() => this.systems.crm.create({ email }, 'user'));
  }

  /** A user edits a CRM contact (consents merged key by key), which sends `contact.updated`. */
  crmUserEdit(id: string, partial: Record<string, unknown>): Contact {
    return asUser(() => this.systems.crm.update(id, partial, 'user'));
  }

  /** A user deletes a CRM contact, which sends `contact.deleted`. */
  crmUserDelete(id: string): void {
    asUser(() => this.systems.crm.delete(id));
  }

  /** A person subscribes in the newsletter tool (fields as a batch operation's), which sends `subscriber.changed`. */
  newsletterUserCreate(email: string, fields: Record<string, unknown> = {}): Subscriber {
    return asUser(() => this.systems.newsletter.create({ ...fields, email_address: email }, 'user'));
  }

  /** A user edits a subscriber, which sends `subscriber.changed`. */
  newsletterUserEdit(id: string, partial: Record<string, unknown>): Subscriber {
    return asUser(() => this.systems.newsletter.update(id, partial, 'user'));
  }

  /** Every CRM contact, in `(updated_at, id)` order (of one address when given). */
  crmContacts(email?: string): Contact[] {
    return email === undefined ? this.systems.crm.all() : this.systems.crm.list({ email });
  }

  /** What the CRM's export holds of a contact besides its fields. */
  crmNotes(id: string): ContactNote[] {
    return asUser(() => this.systems.crm.notesOf(id));
  }

  /** Every subscriber, in `(modified, subscriber_id)` order (of one address when given). */
  newsletterSubscribers(email?: string): Subscriber[] {
    return this.systems.newsletter.list(email === undefined ? {} : { email });
  }

  /** The hub's messages a system's `concord-events` inbox received (each `webhook-id` once). */
  inbox(system: HttpSystem): InboxMessage[] {
    return this.systems.inboxes[system].list();
  }

  /** The status a system's inbox answers verified deliveries with (e.g. 410, 500; 204 by default). */
  setInboxStatus(system: HttpSystem, status: number): void {
    this.systems.inboxes[system].status = status;
  }

  /** The secret a system's inbox verifies the hub's deliveries with from now on. */
  setInboxSecret(system: HttpSystem, secret: string): void {
    this.systems.inboxes[system].secret = WebhookSecret.parse(secret);
  }

  /** Where a system's webhooks go (`undefined`: none are sent); setting a URL again enables it after a 410. */
  override setWebhookUrl(url: string | undefined, system: HttpSystem = 'crm'): void {
    this.systems.senders[system].setUrl(url);
  }

  /** A system signs its webhooks with these secrets from now on, newest first (two: a rotation). */
  setWebhookSecrets(system: HttpSystem, secrets: readonly string[]): void {
    this.systems.senders[system].setSecrets(z.array(WebhookSecret).min(1).max(2).parse(secrets));
  }

  webhookEndpoints(): Record<HttpSystem, WebhookEndpointView> {
    const view = (s: StandardWebhookSender): WebhookEndpointView => ({ url: s.url, disabled: s.disabledNow });
    return { crm: view(this.systems.senders.crm), newsletter: view(this.systems.senders.newsletter) };
  }

  override pauseWebhooks(): void {
    for (const s of this.senders()) s.loop.pause();
  }

  override resumeWebhooks(): void {
    for (const s of this.senders()) s.loop.resume();
  }

  override async flushWebhooks(): Promise<void> {
    await Promise.all(this.senders().map((s) => s.loop.idle()));
  }

  /** Sends these messages again with the same `webhook-id`s (re-signed), as the systems' retries do. */
  override redeliverWebhooks(ids: readonly string[]): void {
    for (const s of this.senders()) s.loop.redeliver(ids);
  }

  /** Both systems' delivery attempts, oldest answer first. */
  override webhookDeliveries(): readonly WebhookDelivery[] {
    return this.senders()
      .flatMap((s) => [...s.loop.log()])
      .sort((a, b) => a.at - b.at);
  }

  private senders(): StandardWebhookSender[] {
    return HTTP_SYSTEMS.map((system) => this.systems.senders[system]);
  }
}

const System = z.enum(HTTP_SYSTEMS);
const SystemParams = z.object({ system: System });
const IdParams = z.object({ id: z.string() });
const EmailQuery = z.object({ email: z.string().min(1).optional() });
const Fields = z.record(z.string(), z.unknown());

/** The HTTP emulator's own side-door routes (the kit mounts calls, rate limits, poison and the shared webhook controls). */
export function registerSideDoorRoutes(app: FastifyInstance, door: HttpSideDoor): void {
  const P = SIDE_DOOR_PREFIX;
  const run = sideDoorAction;
  app.get(`${P}/crm/contacts`, async (req) => door.crmContacts(EmailQuery.parse(req.query).email));
  app.post(`${P}/user-change`, async (req) => run(() => door.userChange(z.object({ email: z.string().min(1) }).parse(req.body).email)));
  app.patch(`${P}/crm/contacts/:id`, async (req) => run(() => door.crmUserEdit(IdParams.parse(req.params).id, Fields.parse(req.body))));
  app.delete(`${P}/crm/contacts/:id`, async (req, reply) => {
    run(() => door.crmUserDelete(IdParams.parse(req.params).id));
    return reply.code(204).send();
  });
  app.get(`${P}/crm/contacts/:id/notes`, async (req) => run(() => door.crmNotes(IdParams.parse(req.params).id)));
  app.get(`${P}/newsletter/subscribers`, async (req) => door.newsletterSubscribers(EmailQuery.parse(req.query).email));
  app.post(`${P}/newsletter/subscribers`, async (req) => {
    const { email_address, ...fields } = z
      .object({ email_address: z.string().min(1) })
      .loose()
      .parse(req.body);
    return run(() => door.newsletterUserCreate(email_address, fields));
  });
  app.patch(`${P}/newsletter/subscribers/:id`, async (req) =>
    run(() => door.newsletterUserEdit(IdParams.parse(req.params).id, Fields.parse(req.body))),
  );
  app.get(`${P}/inbox/:system`, async (req) => door.inbox(SystemParams.parse(req.params).system));
  app.post(`${P}/inbox/:system/status`, async (req, reply) => {
    const { status } = z.object({ status: z.number().int().min(200).max(599) }).parse(req.body);
    door.setInboxStatus(SystemParams.parse(req.params).system, status);
    return reply.code(204).send();
  });
  app.get(`${P}/webhooks/endpoints`, async () => door.webhookEndpoints());
  app.post(`${P}/webhooks/url`, async (req, reply) => {
    const body = z.object({ system: System.default('crm'), url: z.url().nullable() }).parse(req.body);
    door.setWebhookUrl(body.url ?? undefined, body.system);
    return reply.code(204).send();
  });
  app.post(`${P}/webhooks/secrets`, async (req, reply) => {
    const body = z.object({ system: System, secrets: z.array(z.string()) }).parse(req.body);
    door.setWebhookSecrets(body.system, body.secrets);
    return reply.code(204).send();
  });
}
