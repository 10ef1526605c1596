/**
 * List webhooks: `GET/POST /lists/{id}/webhooks`, `GET/DELETE .../webhooks/{id}`. A new webhook's
 * URL is validated with a GET first, and its `signing_secret` is answered once, in the create
 * response. The pre-registered webhooks (option `webhookUrl`) are made here too.
 * https://mailchimp.com/developer/marketing/api/list-webhooks/
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { fieldErrors, notFound, parseInput } from './errors.js';
import { CreateWebhookBody } from './schemas.js';
import { webhookJson } from './serialize.js';
import { WEBHOOK_EVENTS, type MailchimpState, type StoredList, type StoredWebhook, type WebhookEvent } from './state.js';
import type { WebhookSender } from './webhook-sender.js';

/** Every event but `campaign`, from the user and admin sources (our own API writes never echo). */
export function presetWebhook(list: StoredList, url: string, signingSecret: string | undefined): StoredWebhook {
  const events = Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, e !== 'campaign'])) as Record<WebhookEvent, boolean>;
  return {
    id: `preset${list.seed.id}`,
    listId: list.seed.id,
    url,
    events,
    sources: { user: true, admin: true, api: false },
    signingSecret,
    disabled: false,
  };
}

/** Points the pre-registered webhook of every list at `url` (none when undefined). */
export function setPresetWebhooks(state: MailchimpState, sender: WebhookSender, url: string | undefined, secret: string | undefined): void {
  sender.preset.setUrl(url);
  for (const list of state.lists.values()) {
    const hook = presetWebhook(list, url ?? '', secret);
    list.webhooks.delete(hook.id);
    sender.remove(hook.id);
    if (url === undefined) continue;
    list.webhooks.set(hook.id, hook);
    sender.add(hook, true);
  }
}

async function validateUrl(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export interface WebhookRouteOptions {
  signNewWebhooks: boolean;
  validateWebhookUrl: boolean;
}

export function registerWebhookRoutes(app: FastifyInstance, state: MailchimpState, sender: WebhookSender, opts: WebhookRouteOptions): void {
  type Params = { list_id: string; webhook_id: string };

  // https://mailchimp.com/developer/marketing/api/list-webhooks/list-webhooks/
  app.get<{ Params: Params }>('/lists/:list_id/webhooks', async (req) => {
    const list = state.list(req.params.list_id);
    const webhooks = [...list.webhooks.values()].map(webhookJson);
    return { webhooks, list_id: list.seed.id, total_items: webhooks.length };
  });

  // https://mailchimp.com/developer/marketing/api/list-webhooks/add-webhook/
  app.post<{ Params: Params }>('/lists/:list_id/webhooks', async (req) => {
    const list = state.list(req.params.list_id);
    const body = parseInput(CreateWebhookBody, req.body);
    if ([...list.webhooks.values()].some((w) => w.url === body.url)) {
      throw fieldErrors([{ field: 'url', message: 'The provided URL is already in use by another webhook.' }]);
    }
    if (opts.validateWebhookUrl && !(await validateUrl(body.url))) {
      throw fieldErrors([{ field: 'url', message: 'The resource submitted could not be validated: the URL did not answer 200 to a GET.' }]);
    }
    const events = Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e, body.events?.[e] ?? false])) as Record<WebhookEvent, boolean>;
    const hook: StoredWebhook = {
      id: randomBytes(5).toString('hex'),
      listId: list.seed.id,
      url: body.url,
      events,
      sources: { user: body.sources?.user ?? false, admin: body.sources?.admin ?? false, api: body.sources?.api ?? false },
      signingSecret: opts.signNewWebhooks ? randomBytes(32).toString('hex') : undefined,
      disabled: false,
    };
    list.webhooks.set(hook.id, hook);
    sender.add(hook, false);
    return { ...webhookJson(hook), ...(hook.signingSecret ? { signing_secret: hook.signingSecret } : {}) };
  });

  // https://mailchimp.com/developer/marketing/api/list-webhooks/get-webhook-info/
  app.get<{ Params: Params }>('/lists/:list_id/webhooks/:webhook_id', async (req) => {
    const hook = state.list(req.params.list_id).webhooks.get(req.params.webhook_id);
    if (!hook) throw notFound();
    return webhookJson(hook);
  });

  // https://mailchimp.com/developer/marketing/api/list-webhooks/delete-webhook/
  app.delete<{ Params: Params }>('/lists/:list_id/webhooks/:webhook_id', async (req, reply) => {
    const list = state.list(req.params.list_id);
    if (!list.webhooks.delete(req.params.webhook_id)) throw notFound();
    sender.remove(req.params.webhook_id);
    return reply.code(204).send();
  });
}
