/**
 * The side door: what a person does through a Mailchimp form or e-mail link (source `user`: sign
 * up, unsubscribe), what a marketer does in Mailchimp's UI (source `admin`: unsubscribe, archive,
 * clean, edit, change an address, put under compliance review), and the emulator's own views
 * (a member as stored, the peak of requests in flight). Also served over HTTP under `/_emulator/`.
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
import { MailchimpError } from './errors.js';
import type { InFlightLimiter } from './limits.js';
import { memberJson } from './serialize.js';
import type { ChangeSource, MailchimpState, MergeValue, StoredList, StoredMember } from './state.js';
import type { WebhookDelivery, WebhookItem, WebhookSender } from './webhook-sender.js';
import { setPresetWebhooks } from './webhook-routes.js';

/** Which list a side-door action is on (default: the first). */
export interface OnList {
  listId?: string;
}

export interface SideDoorDeps {
  state: MailchimpState;
  sender: WebhookSender;
  limiter: InFlightLimiter;
  ledger: CallLedger;
  presetSigningSecret: string | undefined;
  setRequestDelayMs(ms: number): void;
  holdRequests(held: boolean): void;
}

/** The Mailchimp side door: the kit's controls (over every webhook of every list) and a Mailchimp user's actions. */
export class MailchimpSideDoor extends EmulatorSideDoor<WebhookItem, string, WebhookDelivery> {
  constructor(private readonly deps: SideDoorDeps) {
    super(deps.ledger, deps.sender.preset);
  }

  /** Every API write of this address fails from now on (400 "looks fake or invalid"). */
  poison(email: string): void {
    this.deps.state.poisoned.add(email.trim().toLowerCase());
  }

  /**
   * A sign-up through a Mailchimp form: creates the member, or re-subscribes it (the person's own
   * act: it lifts a compliance state and a delete-permanent tombstone), with timestamp_opt and
   * ip_opt; sends a `subscribe` webhook (source `user`).
   */
  userChange(email: string, merges: Record<string, MergeValue> = { FNAME: 'Grace' }, on: OnList = {}): Record<string, unknown> {
    const list = this.listOf(on);
    return this.run(list, () => this.deps.state.formSignup(list, email, merges));
  }

  /**
   * Unsubscribes: by the person (`by: 'user'`, the default: an unsubscribe link, or a spam
   * complaint with `reason: 'abuse'`; they are then in a compliance state and the API cannot
   * subscribe them again) or by a marketer (`'admin'`).
   */
  unsubscribe(
    email: string,
    options: OnList & { by?: Exclude<ChangeSource, 'api'>; reason?: 'manual' | 'abuse' } = {},
  ): Record<string, unknown> {
    const by = options.by ?? 'user';
    return this.act(email, options, (list, m) => {
      if (by === 'user') m.lock = 'unsubscribed_self';
      if (m.status !== 'unsubscribed') this.deps.state.setStatus(list, m, 'unsubscribed', by, {}, options.reason);
    });
  }

  /** A marketer archives the member (the previous status is forgotten; sends unsubscribe, action delete). */
  archive(email: string, on: OnList = {}): Record<string, unknown> {
    return this.act(email, on, (list, m) => this.deps.state.archive(list, m, 'admin'));
  }

  /** The address hard-bounced: cleaned (sends `cleaned`, reason hard); it cannot be subscribed again. */
  clean(email: string, on: OnList = {}): Record<string, unknown> {
    return this.act(email, on, (list, m) => this.deps.state.setStatus(list, m, 'cleaned', 'admin'));
  }

  /** Mailchimp's compliance team puts the member under review: it cannot be subscribed through the API. */
  complianceReview(email: string, on: OnList = {}): Record<string, unknown> {
    return this.act(email, on, (_list, m) => {
      m.lock = 'compliance_review';
    });
  }

  /** A marketer edits merge fields (sends `profile`). */
  edit(email: string, merges: Record<string, MergeValue>, on: OnList = {}): Record<string, unknown> {
    return this.act(email, on, (list, m) => this.deps.state.update(list, m, { merge_fields: merges }, undefined, { source: 'admin' }));
  }

  /** A marketer changes the member's address (sends `upemail`); the contact_id stays, the id changes. */
  changeEmail(oldEmail: string, newEmail: string, on: OnList = {}): Record<string, unknown> {
    return this.act(oldEmail, on, (list, m) =>
      this.deps.state.update(list, m, { email_address: newEmail }, undefined, { source: 'admin' }),
    );
  }

  /** The member as the API would answer it, or undefined (never existed, or deleted permanently). */
  member(email: string, on: OnList = {}): Record<string, unknown> | undefined {
    const list = this.listOf(on);
    const m = this.deps.state.find(list, email);
    return m ? memberJson(list, m) : undefined;
  }

  /** The most API requests that were in flight at once for one key. */
  peakInFlight(): number {
    return this.deps.limiter.peakInFlight();
  }

  resetPeakInFlight(): void {
    this.deps.limiter.resetPeak();
  }

  /** Test knob: every API call waits this long before it is handled. */
  setRequestDelayMs(ms: number): void {
    this.deps.setRequestDelayMs(ms);
  }

  /**
   * Test knob: API calls admitted from now on wait (holding their connection) until
   * `releaseRequests`; the connection ceiling still counts them.
   */
  holdRequests(): void {
    this.deps.holdRequests(true);
  }

  releaseRequests(): void {
    this.deps.holdRequests(false);
  }

  /** The pre-registered webhook of every list (sources user and admin) goes to this URL; none when undefined. */
  override setWebhookUrl(url: string | undefined): void {
    setPresetWebhooks(this.deps.state, this.deps.sender, url, this.deps.presetSigningSecret);
  }

  override pauseWebhooks(): void {
    this.deps.sender.pause();
  }

  override resumeWebhooks(): void {
    this.deps.sender.resume();
  }

  override flushWebhooks(): Promise<void> {
    return this.deps.sender.idle();
  }

  override redeliverWebhooks(ids: readonly string[]): void {
    this.deps.sender.redeliver(ids);
  }

  override webhookDeliveries(): readonly WebhookDelivery[] {
    return this.deps.sender.log();
  }

  /** Whether a webhook was disabled by a 410 answer. */
  webhookDisabled(listId: string, webhookId: string): boolean {
    return this.deps.state.list(listId).webhooks.get(webhookId)?.disabled ?? false;
  }

  private listOf(on: OnList): StoredList {
    const id = on.listId ?? [...this.deps.state.lists.keys()][0] ?? '';
    const list = this.deps.state.lists.get(id);
    if (!list) throw new SideDoorError(`no list ${id}`);
    return list;
  }

  private act(email: string, on: OnList, fn: (list: StoredList, m: StoredMember) => unknown): Record<string, unknown> {
    const list = this.listOf(on);
    const m = this.deps.state.find(list, email);
    if (!m) throw new SideDoorError('no such member');
    return this.run(list, () => {
      fn(list, m);
      return m;
    });
  }

  /** A Mailchimp refusal (an invalid value) becomes a `SideDoorError`. */
  private run(list: StoredList, fn: () => StoredMember): Record<string, unknown> {
    try {
      return memberJson(list, fn());
    } catch (e) {
      if (e instanceof MailchimpError) throw new SideDoorError(`${e.title}: ${e.detail}`);
      throw e;
    }
  }
}

const Email = z.object({ email: z.string().min(1), listId: z.string().optional() });
const Merges = z.record(z.string(), z.union([z.string(), z.number()]));

/** Mailchimp's own side-door routes over HTTP (the kit mounts calls, rate limits, poison and webhooks). */
export function registerSideDoorRoutes(app: FastifyInstance, door: MailchimpSideDoor): void {
  const P = SIDE_DOOR_PREFIX;
  const run = sideDoorAction;
  app.post(`${P}/signup`, async (req) => {
    const body = Email.extend({ merges: Merges.optional() }).parse(req.body);
    return run(() => door.userChange(body.email, body.merges, body));
  });
  app.post(`${P}/unsubscribe`, async (req) => {
    const body = Email.extend({ by: z.enum(['user', 'admin']).optional(), reason: z.enum(['manual', 'abuse']).optional() }).parse(req.body);
    return run(() => door.unsubscribe(body.email, body));
  });
  app.post(`${P}/archive`, async (req) => {
    const body = Email.parse(req.body);
    return run(() => door.archive(body.email, body));
  });
  app.post(`${P}/clean`, async (req) => {
    const body = Email.parse(req.body);
    return run(() => door.clean(body.email, body));
  });
  app.post(`${P}/compliance-review`, async (req) => {
    const body = Email.parse(req.body);
    return run(() => door.complianceReview(body.email, body));
  });
  app.post(`${P}/edit`, async (req) => {
    const body = Email.extend({ merges: Merges }).parse(req.body);
    return run(() => door.edit(body.email, body.merges, body));
  });
  app.post(`${P}/change-email`, async (req) => {
    const body = Email.extend({ newEmail: z.string().min(1) }).parse(req.body);
    return run(() => door.changeEmail(body.email, body.newEmail, body));
  });
  app.get(`${P}/member`, async (req, reply) => {
    const q = z.object({ email: z.string().min(1), listId: z.string().optional() }).parse(req.query);
    return door.member(q.email, q) ?? reply.code(404).send({ message: 'not found' });
  });
  app.get(`${P}/peak-in-flight`, async () => ({ peakInFlight: door.peakInFlight() }));
  app.post(`${P}/webhook-url`, async (req, reply) => {
    door.setWebhookUrl(z.object({ url: z.url().optional() }).parse(req.body ?? {}).url);
    return reply.code(204).send();
  });
}
