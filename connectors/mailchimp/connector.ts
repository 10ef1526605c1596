/**
 * The Mailchimp connector: the members of one audience (list) with their merge fields, status
 * (the e-mail marketing consent), interests (topics) and GDPR marketing permissions (consents),
 * both ways, through the Marketing API with axios; webhooks as hints read back; erasure by
 * `delete-permanent`. See README.md beside this file.
 */
import { WebhookAcks } from '../../src/connector/kit/index.js';
import { defineConnector, type ConnectorContext, type ConnectorInstance } from '../../src/connector/define.js';
import { MailchimpApi, sharedSignal } from './api.js';
import { MAILCHIMP_SECRET_KEYS, MailchimpConfig, MailchimpCursor } from './config.js';
import { eraseMembers } from './erase.js';
import { MailchimpExporter } from './export.js';
import { findMembers, phoneMergeTag } from './find.js';
import { checkMailchimp } from './check.js';
import { derivedMailchimpMappings, mailchimpDefaultMappings } from './mapping.js';
import { pullMembers } from './pull.js';
import { MailchimpPusher } from './push.js';
import { readMembers, toRecord } from './read.js';
import { setupWebhook } from './setup.js';
import {
  admitMailchimpWebhook,
  parseMailchimpForm,
  SIGNATURE_HEADER,
  toWebhookEvents,
  validationReply,
  verifyMailchimpWebhook,
  type WebhookSecrets,
} from './webhook.js';

export interface MailchimpRuntime {
  /** Clock (tests). */
  now?: () => number;
}

/** The instance, and its API client (tests read the in-flight gate). */
export function createMailchimpInstance(
  ctx: ConnectorContext<MailchimpConfig>,
  runtime: MailchimpRuntime = {},
): ConnectorInstance<MailchimpCursor> & { api: MailchimpApi } {
  const config = MailchimpConfig.parse(ctx.config);
  const now = runtime.now ?? Date.now;
  const api = new MailchimpApi(config, ctx, now);
  const pusher = new MailchimpPusher(api);
  const exporter = new MailchimpExporter(api);
  const secrets: WebhookSecrets = {
    urlSecret: config.webhookSecret,
    ...(config.webhookSigningSecret === undefined ? {} : { signingSecret: config.webhookSigningSecret }),
  };
  // A delivery counts as handled once the engine has enqueued its event (`reply`).
  // Learned from the answers: whether since_last_changed takes the bound's own second.
  const sinceBound = { inclusive: false };
  const acks = new WebhookAcks<string>({ capacity: 50_000, maxPending: 10_000 });
  // The merge field the phone identity is mapped to (find compares phones there).
  const phoneTag = phoneMergeTag(ctx.fieldTargets);

  return {
    api,
    pull: (cursor, signal) => pullMembers(api, cursor, signal, now, sinceBound),
    push: (batch, signal) => pusher.push(batch, sharedSignal(signal)),
    async read(externalIds, signal) {
      return (await readMembers(api, externalIds, sharedSignal(signal))).map((m) => toRecord(m, now));
    },
    erase: (refs, signal) => eraseMembers(api, refs, sharedSignal(signal)),
    export: (refs, signal) => exporter.export(refs, sharedSignal(signal)),
    find: (queries, signal) => findMembers(api, phoneTag, queries, sharedSignal(signal)),
    // No merge field carries the phone identity: phones cannot be searched.
    ...(phoneTag === undefined ? { findsBy: ['email', 'externalId'] } : {}),
    admit: (head) => admitMailchimpWebhook(head, secrets),
    // Mailchimp GETs the URL before it saves a webhook.
    validation: (head) => validationReply(head, secrets),
    async setup(hub, signal) {
      const url = `${hub.webhookUrl}/${encodeURIComponent(config.webhookSecret)}`;
      const done = await setupWebhook(api, url, signal);
      const lines = [
        `webhook ${done.action} on audience ${config.listId}: ${done.url} (id ${done.webhookId}; events subscribe, unsubscribe, profile, upemail, cleaned; sources user and admin, api off)`,
      ];
      if (done.signingSecret !== undefined)
        lines.push(`signing secret (Mailchimp shows it once): set webhookSigningSecret to \${env:...} holding ${done.signingSecret}`);
      return lines;
    },
    check: (signal, hub) => checkMailchimp(api, config, ctx.fieldTargets, hub, sharedSignal(signal)),
    verify: (raw) => verifyMailchimpWebhook(raw, secrets),
    parse(raw) {
      const events = toWebhookEvents(parseMailchimpForm(raw.body), config.listId);
      return acks.freshEvents(events);
    },
    reply(events) {
      acks.acknowledge(events.map((e) => e.eventId));
      return { status: 200 };
    },
    unpark: () => api.unpark(),
  };
}

export default defineConnector<MailchimpConfig, MailchimpCursor>({
  type: 'mailchimp',
  configSchema: MailchimpConfig,
  cursorSchema: MailchimpCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  // Mailchimp publishes no per-second limit, only 10 simultaneous connections per key, which the
  // connector's own process-wide gate enforces across every request; the engine's pace (100 calls
  // per second) only bounds a burst of webhook read-backs. A push of 500 creates is one call.
  limits: { requestsPerWindow: 100, windowMs: 1_000, maxBatch: 500, concurrency: 10 },
  defaultMappings: mailchimpDefaultMappings,
  derivedMappings: derivedMailchimpMappings,
  secretKeys: MAILCHIMP_SECRET_KEYS,
  generatedSecretKeys: ['webhookSecret'],
  sensitiveKeys: [SIGNATURE_HEADER],
  create: (ctx) => createMailchimpInstance(ctx),
});
