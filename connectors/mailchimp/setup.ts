/**
 * Setup help: registers the audience's webhook the way the connector needs it (events subscribe,
 * unsubscribe, profile, upemail and cleaned; sources user and admin, **api off**, so our own
 * writes never echo), for a CLI such as `concord mailchimp webhook-setup` to call and print.
 * A webhook already at the URL with the right settings is kept; one with other settings is
 * replaced. Mailchimp answers a new webhook's signing secret once, in the create response: it
 * is returned for the operator to store as `webhookSigningSecret`.
 * https://mailchimp.com/developer/marketing/api/list-webhooks/
 */
import { MalformedPayloadError } from '../../src/connector/errors.js';
import type { MailchimpApi } from './api.js';

/** The events the connector reads (campaign names nobody). */
export const WEBHOOK_EVENTS = { subscribe: true, unsubscribe: true, profile: true, cleaned: true, upemail: true, campaign: false } as const;
/** Who may fire it: a person (forms, links) and a marketer (the UI), never the API (our writes). */
export const WEBHOOK_SOURCES = { user: true, admin: true, api: false } as const;

export interface ListWebhook {
  id: string;
  url: string;
  events?: Record<string, boolean>;
  sources?: Record<string, boolean>;
}

export interface WebhookSetupResult {
  /** `kept`: it was there as needed; `created`; `replaced`: one at the URL had other settings. */
  action: 'kept' | 'created' | 'replaced';
  webhookId: string;
  /** The URL with its secret path segment masked, for printing. */
  url: string;
  /** Answered once by Mailchimp on create: store it as `webhookSigningSecret`. */
  signingSecret?: string;
}

/** The webhook URL with its last path segment (the URL secret) masked. */
export function maskedUrl(url: string): string {
  return url.replace(/\/[^/]+\/?$/, '/<webhookSecret>');
}

/** The webhook has exactly the events and sources the connector needs. */
export function listedWebhookFits(hook: ListWebhook): boolean {
  const same = (want: Record<string, boolean>, have: Record<string, boolean> | undefined): boolean =>
    Object.entries(want).every(([k, v]) => (have?.[k] ?? false) === v);
  return same(WEBHOOK_EVENTS, hook.events) && same(WEBHOOK_SOURCES, hook.sources);
}

/** Registers (or checks) the webhook of the instance's audience at `url` (`<publicUrl>/webhooks/<instance id>/<webhookSecret>`). */
export async function setupWebhook(api: MailchimpApi, url: string, signal?: AbortSignal): Promise<WebhookSetupResult> {
  const path = `/lists/${encodeURIComponent(api.config.listId)}/webhooks`;
  // https://mailchimp.com/developer/marketing/api/list-webhooks/list-webhooks/
  const listed = await api.request<{ webhooks?: ListWebhook[] }>('GET', path, { signal });
  const existing = (listed.data?.webhooks ?? []).find((w) => w.url === url);
  if (existing && listedWebhookFits(existing)) return { action: 'kept', webhookId: existing.id, url: maskedUrl(url) };
  if (existing) {
    // https://mailchimp.com/developer/marketing/api/list-webhooks/delete-webhook/
    await api.request('DELETE', `${path}/${encodeURIComponent(existing.id)}`, { signal, accept: [404] });
  }
  // https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/ (Mailchimp GETs the URL first: the hub must answer it)
  const created = await api.request<ListWebhook & { signing_secret?: string }>('POST', path, {
    data: { url, events: WEBHOOK_EVENTS, sources: WEBHOOK_SOURCES },
    signal,
  });
  if (typeof created.data?.id !== 'string') throw new MalformedPayloadError('POST /lists/{id}/webhooks answered without an id');
  return {
    action: existing ? 'replaced' : 'created',
    webhookId: created.data.id,
    url: maskedUrl(url),
    ...(typeof created.data.signing_secret === 'string' ? { signingSecret: created.data.signing_secret } : {}),
  };
}
