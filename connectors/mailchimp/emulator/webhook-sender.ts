/**
 * Sends Mailchimp list webhooks: one form-encoded POST per event to each of the list's webhooks
 * whose `events` and `sources` match the change, signed with
 * `X-Mailchimp-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` when the
 * webhook has a signing secret. A 410 answer disables the webhook for good. Retries, pause and
 * redelivery are the emulator kit's `WebhookDeliveryLoop`: the pre-registered webhooks (option
 * `webhookUrl`, one per list, same URL) share one loop, each webhook created through the API has
 * its own.
 * https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/
 */
import { signMailchimpWebhook } from '../webhook.js';
import { WebhookDeliveryLoop, type DeliveryRequest } from '../../../src/connector/emulator-kit/index.js';
import { emailHash, type MemberChange, type MergeValue, type StoredWebhook } from './state.js';

/** One event for one webhook. */
export interface WebhookItem {
  eventId: string;
  webhookId: string;
  type: MemberChange['type'];
  /** The form fields, in order. */
  form: [string, string][];
}

/** One delivery attempt, as the side door's `webhookDeliveries()` lists it. */
export interface WebhookDelivery {
  /** When the answer came (or the request failed). */
  at: number;
  /** When the request was sent. */
  sentAt: number;
  webhookId: string;
  eventIds: string[];
  types: string[];
  attempt: number;
  status: number | 'error';
  acked: boolean;
}

type Loop = WebhookDeliveryLoop<WebhookItem, string, WebhookDelivery>;

export interface WebhookSenderOptions {
  presetUrl: string | undefined;
  maxAttempts: number;
  retryBaseMs: number;
  now: () => number;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, no zone (Mailchimp's `fired_at`). */
export const firedAt = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** `X-Mailchimp-Signature` of a body at a time: the connector's own signer (`signMailchimpWebhook`), one definition of the scheme. */
export const mailchimpSignature = signMailchimpWebhook;

function mergeFields(form: [string, string][], tag: string, value: MergeValue): void {
  if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (typeof v === 'string') form.push([`data[merges][${tag}][${k}]`, v]);
  } else {
    form.push([`data[merges][${tag}]`, String(value)]);
  }
}

/** The form fields of a change, as Mailchimp sends them. */
export function formOf(change: MemberChange): [string, string][] {
  const { list, member, extra } = change;
  const form: [string, string][] = [
    ['type', change.type],
    ['fired_at', firedAt(change.at)],
  ];
  if (change.type === 'upemail') {
    form.push(['data[list_id]', list.seed.id]);
    for (const key of ['new_id', 'new_email', 'old_email']) form.push([`data[${key}]`, extra[key] ?? '']);
    return form;
  }
  form.push(
    ['data[id]', emailHash(member.email)],
    ['data[list_id]', list.seed.id],
    ['data[email]', member.email],
    ['data[email_type]', member.emailType],
    ['data[ip_opt]', member.ipOpt],
    ['data[ip_signup]', member.ipSignup],
    ['data[web_id]', String(member.webId)],
  );
  form.push(['data[merges][EMAIL]', member.email]);
  for (const def of list.seed.mergeFields) mergeFields(form, def.tag, member.mergeFields[def.tag] ?? '');
  const interests = list.seed.interestCategories.flatMap((c) => c.interests.filter((i) => member.interests[i.id]).map((i) => i.name));
  form.push(['data[merges][INTERESTS]', interests.join(', ')]);
  for (const [key, value] of Object.entries(extra)) form.push([`data[${key}]`, value]);
  if (change.type === 'unsubscribe' || change.type === 'cleaned') form.push(['data[campaign_id]', '']);
  return form;
}

export class WebhookSender {
  /** The pre-registered webhooks' loop (the kit side door's `setWebhookUrl` sets its URL). */
  readonly preset: Loop;
  private readonly own = new Map<string, Loop>();
  private readonly hooks = new Map<string, StoredWebhook & { preset: boolean }>();
  private nextEventId = 1;
  private paused = false;

  constructor(private readonly opts: WebhookSenderOptions) {
    this.preset = this.loop(opts.presetUrl);
  }

  /** Starts delivering to a webhook (the pre-registered ones through the shared loop). */
  add(hook: StoredWebhook, preset: boolean): void {
    this.hooks.set(hook.id, Object.assign(hook, { preset }));
    if (!preset) this.own.set(hook.id, this.loop(hook.url));
  }

  remove(id: string): void {
    this.hooks.delete(id);
    void this.own.get(id)?.close();
    this.own.delete(id);
  }

  /** Queues the change for every webhook of its list that wants this event from this source. */
  notify(change: MemberChange): void {
    let form: [string, string][] | undefined;
    for (const hook of change.list.webhooks.values()) {
      const known = this.hooks.get(hook.id);
      if (!known || hook.disabled || !hook.events[change.type] || !hook.sources[change.source]) continue;
      form ??= formOf(change);
      const loop = known.preset ? this.preset : this.own.get(hook.id);
      loop?.enqueue({ eventId: `evt_${this.nextEventId++}`, webhookId: hook.id, type: change.type, form });
    }
  }

  pause(): void {
    this.paused = true;
    for (const l of this.loops()) l.pause();
  }

  resume(): void {
    this.paused = false;
    for (const l of this.loops()) l.resume();
  }

  async idle(): Promise<void> {
    await Promise.all(this.loops().map((l) => l.idle()));
  }

  redeliver(ids: readonly string[]): void {
    for (const l of this.loops()) l.redeliver(ids);
  }

  log(): WebhookDelivery[] {
    return this.loops()
      .flatMap((l) => [...l.log()])
      .sort((a, b) => a.at - b.at);
  }

  async close(): Promise<void> {
    await Promise.all(this.loops().map((l) => l.close()));
  }

  private loops(): Loop[] {
    return [this.preset, ...this.own.values()];
  }

  private loop(url: string | undefined): Loop {
    const loop: Loop = new WebhookDeliveryLoop<WebhookItem, string, WebhookDelivery>({
      url,
      idOf: (item) => item.eventId,
      maxPerRequest: 1,
      batchMs: 0,
      maxAttempts: this.opts.maxAttempts,
      retryBaseMs: this.opts.retryBaseMs,
      retryMaxMs: 60_000,
      timeoutMs: 10_000,
      sign: (items) => this.sign(items),
      acknowledged: (status) => {
        if (status !== 410) return status >= 200 && status < 300;
        // Gone: Mailchimp disables the webhook for good and stops retrying (since April 2021).
        return true;
      },
      logEntry: ({ at, sentAt, items, attempt, status, acked }) => {
        if (status === 410) for (const item of items) this.disable(item.webhookId);
        return {
          at,
          sentAt,
          webhookId: items[0]?.webhookId ?? '',
          eventIds: items.map((i) => i.eventId),
          types: items.map((i) => i.type),
          attempt,
          status,
          acked,
        };
      },
      now: this.opts.now,
    });
    if (this.paused) loop.pause();
    return loop;
  }

  private disable(webhookId: string): void {
    const hook = this.hooks.get(webhookId);
    if (hook) hook.disabled = true;
  }

  private sign(items: readonly WebhookItem[]): DeliveryRequest | undefined {
    const item = items[0];
    const hook = item ? this.hooks.get(item.webhookId) : undefined;
    if (!item || !hook || hook.disabled) return undefined;
    const body = new URLSearchParams(item.form).toString();
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailChimp' };
    if (hook.signingSecret) {
      headers['x-mailchimp-signature'] = mailchimpSignature(hook.signingSecret, body, Math.floor(this.opts.now() / 1000));
    }
    return { headers, body };
  }
}
