/**
 * The side door: lets tests and the demo act like a marketer in the HubSpot UI (edit a contact,
 * unsubscribe, merge two contacts, delete) and inspect the emulator (state, calls per endpoint,
 * webhook deliveries). Changes made here send webhooks exactly like API changes, with
 * `changeSource: CRM_UI`. Also served over HTTP under `/_emulator/` for other processes.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RateLimitOptions } from './options.js';
import {
  EmulatorSideDoor,
  SIDE_DOOR_PREFIX,
  SideDoorError,
  sideDoorAction,
  type CallLedger,
  type WebhookDeliveryLoop,
} from '../../../src/connector/emulator-kit/index.js';
import type { RateLimiter } from './rate-limiter.js';
import { statusJson, contactJson } from './serialize.js';
import {
  LEGAL_BASES,
  type ChangeOrigin,
  type HubSpotLegalBasis,
  type HubSpotState,
  type IdleWrite,
  type PropertyInput,
  type StatusState,
} from './state.js';
import type { Delivery, WebhookPayloadEvent } from './webhook-sender.js';
import { propertyValuesNotValid } from './errors.js';

/** Changes made through the side door look like a user working in HubSpot. */
export const UI_ORIGIN: ChangeOrigin = { changeSource: 'CRM_UI', sourceId: 'userId:1', statusSource: 'HubSpot UI' };

export interface ContactView {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/**
 * The HubSpot side door: the kit's `EmulatorControls` and `WebhookControls` (calls, `rateLimitNextCall`
 * answered with a `TEN_SECONDLY_ROLLING` 429, webhooks), and what a HubSpot user does.
 */
export class SideDoor extends EmulatorSideDoor<WebhookPayloadEvent, number, Delivery> {
  constructor(
    private readonly state: HubSpotState,
    webhooks: WebhookDeliveryLoop<WebhookPayloadEvent, number, Delivery>,
    private readonly limiter: RateLimiter,
    ledger: CallLedger,
    private rateLimit: RateLimitOptions,
  ) {
    super(ledger, webhooks);
  }

  /** Every write of this address fails from now on, as an invalid e-mail (a permanently rejected record). */
  poison(email: string): void {
    this.state.poisoned.add(email.trim().toLowerCase());
  }

  /** Creates a contact with this address as a user would (the conformance adapter's change). */
  userChange(email: string): ContactView {
    return this.createContact({ email, firstname: 'Grace' });
  }

  /** Creates a contact as a user would (sends `contact.creation` and property changes). */
  createContact(properties: PropertyInput): ContactView {
    this.validate(properties);
    return this.view(this.state.create(properties, UI_ORIGIN).id);
  }

  /** Edits a contact's properties; only real changes bump `lastmodifieddate` and send webhooks. */
  editContact(id: string, properties: PropertyInput): ContactView {
    this.validate(properties);
    const contact = this.state.get(id);
    if (!contact) throw new SideDoorError(`no contact ${id}`);
    this.state.update(contact, properties, UI_ORIGIN);
    return this.view(id);
  }

  /** Sets a subscription status for an address, as a marketer (or the person) would. */
  setSubscription(email: string, subscriptionId: number, status: StatusState, legalBasis: HubSpotLegalBasis | null = null): void {
    if (!this.state.definition(subscriptionId)) throw new SideDoorError(`no subscription type ${subscriptionId}`);
    this.state.setStatus(email, subscriptionId, status, legalBasis, null, UI_ORIGIN);
  }

  unsubscribe(email: string, subscriptionId: number): void {
    this.setSubscription(email, subscriptionId, 'UNSUBSCRIBED');
  }

  subscribe(email: string, subscriptionId: number, legalBasis: HubSpotLegalBasis = 'CONSENT_WITH_NOTICE'): void {
    this.setSubscription(email, subscriptionId, 'SUBSCRIBED', legalBasis);
  }

  /** Merges `secondaryId` into `primaryId` (sends `contact.merge`). */
  merge(primaryId: string, secondaryId: string): ContactView {
    const primary = this.state.get(primaryId);
    const secondary = this.state.get(secondaryId);
    if (!primary || !secondary || primaryId === secondaryId) throw new SideDoorError('merge needs two live, distinct contacts');
    this.state.merge(primary, secondary, UI_ORIGIN);
    return this.view(primaryId);
  }

  /** Deletes (archives) a contact (sends `contact.deletion`). */
  deleteContact(id: string): void {
    const contact = this.state.get(id);
    if (!contact) throw new SideDoorError(`no contact ${id}`);
    this.state.archive(contact, UI_ORIGIN);
  }

  /** GDPR-deletes a contact from the UI (sends `contact.privacyDeletion`). */
  privacyDelete(id: string): void {
    const contact = this.state.get(id);
    if (!contact) throw new SideDoorError(`no contact ${id}`);
    this.state.gdprDelete(contact, UI_ORIGIN);
  }

  getContact(id: string): ContactView | undefined {
    const contact = this.state.get(id);
    return contact ? this.view(contact.id) : undefined;
  }

  findByEmail(email: string): ContactView | undefined {
    const contact = this.state.findByEmail(email);
    return contact ? this.view(contact.id) : undefined;
  }

  contacts(): ContactView[] {
    return this.state.list().map((c) => this.view(c.id));
  }

  /** Subscription statuses of an address, in the v4 `PublicStatus` shape. */
  statuses(email: string): Record<string, unknown>[] {
    const address = email.trim().toLowerCase();
    return this.state.statusesOf(address).map((s) => statusJson(this.state, address, s));
  }

  isBlocklisted(email: string): boolean {
    return this.state.blocklist.has(email.trim().toLowerCase());
  }

  /** API writes that changed nothing (every value written was already held), oldest first. */
  idleWrites(): readonly IdleWrite[] {
    return [...this.state.idleWrites];
  }

  setRateLimit(limits: Partial<RateLimitOptions>): void {
    this.rateLimit = { ...this.rateLimit, ...limits };
    this.limiter.setLimits(this.rateLimit);
  }

  resetDailyLimit(): void {
    this.limiter.resetDaily();
  }

  private validate(properties: PropertyInput): void {
    const problems = this.state.validate(properties);
    if (problems.length > 0) throw new SideDoorError(propertyValuesNotValid(problems));
  }

  private view(id: string): ContactView {
    const c = this.state.contacts.get(id);
    if (!c) throw new SideDoorError(`no contact ${id}`);
    const json = contactJson(this.state, c, Object.keys(c.properties));
    return {
      id: c.id,
      properties: { ...c.properties },
      createdAt: String(json.createdAt),
      updatedAt: String(json.updatedAt),
    };
  }
}

const Props = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
const SubscriptionBody = z.object({
  email: z.string().min(1),
  subscriptionId: z.number().int(),
  status: z.enum(['SUBSCRIBED', 'UNSUBSCRIBED', 'NOT_SPECIFIED']),
  legalBasis: z.enum(LEGAL_BASES).nullable().optional(),
});

/** HubSpot's own side-door routes over HTTP (the kit mounts calls, rate limits, poison and webhooks). */
export function registerSideDoorRoutes(app: FastifyInstance, door: SideDoor): void {
  const P = SIDE_DOOR_PREFIX;
  const run = sideDoorAction;
  app.get(`${P}/contacts`, async () => door.contacts());
  app.post(`${P}/contacts`, async (req) => run(() => door.createContact(Props.parse(req.body))));
  app.get(`${P}/contacts/:id`, async (req, reply) => {
    const c = door.getContact((req.params as { id: string }).id);
    return c ?? reply.code(404).send({ message: 'not found' });
  });
  app.patch(`${P}/contacts/:id`, async (req) => run(() => door.editContact((req.params as { id: string }).id, Props.parse(req.body))));
  app.delete(`${P}/contacts/:id`, async (req, reply) => {
    run(() => door.deleteContact((req.params as { id: string }).id));
    return reply.code(204).send();
  });
  app.post(`${P}/contacts/:id/privacy-delete`, async (req, reply) => {
    run(() => door.privacyDelete((req.params as { id: string }).id));
    return reply.code(204).send();
  });
  app.post(`${P}/merge`, async (req) => {
    const body = z.object({ primaryId: z.string(), secondaryId: z.string() }).parse(req.body);
    return run(() => door.merge(body.primaryId, body.secondaryId));
  });
  app.post(`${P}/subscriptions`, async (req, reply) => {
    const body = SubscriptionBody.parse(req.body);
    run(() => door.setSubscription(body.email, body.subscriptionId, body.status, body.legalBasis ?? null));
    return reply.code(204).send();
  });
  app.get(`${P}/statuses`, async (req) => door.statuses(String((req.query as { email?: string }).email ?? '')));
}
