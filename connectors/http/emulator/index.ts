/**
 * The generic HTTP emulator (a REST CRM and a newsletter tool on one server): start it in process
 * with `startHttpEmulator`, or run `concord emulate http`.
 */
import { z } from 'zod';
import { defineEmulator, type DemoStartContext } from '../../../src/connector/emulator-definition.js';
import { CRM_PREFIX, DEV_CRM_TOKEN, DEV_NEWSLETTER_API_KEY, DEV_WEBHOOK_SECRET, NEWSLETTER_PREFIX, type HttpSystem } from './options.js';
import { startHttpEmulator, type RunningHttpEmulator } from './server.js';

export { startHttpEmulator, type RunningHttpEmulator, type EmulatorRuntime } from './server.js';
export {
  HttpEmulatorOptions,
  WebhookSecret,
  HTTP_SYSTEMS,
  CRM_PREFIX,
  NEWSLETTER_PREFIX,
  DEV_CRM_TOKEN,
  DEV_NEWSLETTER_API_KEY,
  DEV_WEBHOOK_SECRET,
  type HttpEmulatorOptionsInput,
  type HttpSystem,
  type RateWindow,
} from './options.js';
export { HttpSideDoor, type WebhookEndpointView } from './side-door.js';
export { standardWebhookHeaders, type WebhookDelivery, type WebhookMessage } from './webhook-sender.js';
export { type InboxMessage } from './inbox.js';
export { INBOX_PATH } from './errors.js';
export { CRM_MAX_PAGE } from './crm-routes.js';
export { MAX_BATCH_OPERATIONS, NEWSLETTER_MAX_PAGE, type BatchResult } from './newsletter-routes.js';
export { type Contact, type ContactNote, type Consents, type ContactEvent } from './crm-state.js';
export { SUBSCRIBER_STATUSES, type Subscriber } from './newsletter-state.js';
export { SideDoorError, type CallCounts } from '../../../src/connector/emulator-kit/index.js';

/** The instance config keys the demo reads (the rest of the connector's config is not the emulator's business). */
const DemoConfig = z.object({
  baseUrl: z.string().optional(),
  webhooks: z.object({ secrets: z.array(z.string()).optional() }).optional(),
  webhooksOut: z.object({ secrets: z.array(z.string()).optional() }).optional(),
});

/** The emulators the demo runs, by port: a CRM instance and a newsletter instance on one port share one server. */
const demoServers = new Map<number, { running: Promise<RunningHttpEmulator>; users: number }>();

/** The system an instance's `baseUrl` points at (its path), the CRM unless it names the newsletter tool. */
const systemOf = (baseUrl: string | undefined): HttpSystem =>
  baseUrl !== undefined && URL.canParse(baseUrl) && new URL(baseUrl).pathname.startsWith(NEWSLETTER_PREFIX) ? 'newsletter' : 'crm';

/**
 * Starts (or joins, on the same port) the emulator for one instance: its system sends webhooks to
 * the hub's `/webhooks/<instanceId>` signed with `webhooks.secrets[0]`, and its inbox verifies with
 * `webhooksOut.secrets[0]`; the URL returned is the system's base URL (`<origin>/crm/v1` or
 * `<origin>/newsletter/api`), which the demo writes back into `baseUrl`.
 */
async function startForDemo({ instanceId, config, port, publicUrl }: DemoStartContext): Promise<RunningHttpEmulator> {
  const parsed = DemoConfig.safeParse(config);
  const keys = parsed.success ? parsed.data : {};
  const system = systemOf(keys.baseUrl);
  const secret = keys.webhooks?.secrets?.[0] ?? DEV_WEBHOOK_SECRET;
  const inboxSecret = keys.webhooksOut?.secrets?.[0] ?? secret;
  const entry = (port === 0 ? undefined : demoServers.get(port)) ?? { running: startHttpEmulator({ port }), users: 0 };
  if (port !== 0) demoServers.set(port, entry);
  entry.users += 1;
  let running: RunningHttpEmulator;
  try {
    running = await entry.running;
  } catch (e) {
    demoServers.delete(port);
    throw e;
  }
  running.sideDoor.setWebhookSecrets(system, [secret]);
  running.sideDoor.setInboxSecret(system, inboxSecret);
  running.sideDoor.setWebhookUrl(`${publicUrl}/webhooks/${instanceId}`, system);
  return {
    ...running,
    url: `${running.url}${system === 'crm' ? CRM_PREFIX : NEWSLETTER_PREFIX}`,
    async close() {
      entry.users -= 1;
      if (entry.users > 0) return;
      if (demoServers.get(port) === entry) demoServers.delete(port);
      await running.close();
    },
  };
}

/** `concord emulate http` and the demo's generic HTTP systems (registered in `connectors/index.ts`). */
export default defineEmulator({
  id: 'http',
  description:
    'Generic HTTP systems on one port: a REST CRM under /crm/v1 (bearer token, cursor paging, 50 req/s) and a newsletter tool under /newsletter/api (X-API-Key, offset paging with Link, batch upserts of 500, 20 req/s); Standard Webhooks out on every write (whsec_ secret, rotation) and in at <system>/concord-events; side door under /_emulator/',
  secretEnv: 'HTTP_EMULATOR_WEBHOOK_SECRET',
  defaultPort: 4050,
  cli: {
    webhookUrl: "where the CRM sends its webhooks, <hub>/webhooks/<id> (the newsletter tool's: POST /_emulator/webhooks/url)",
    rateLimit: true,
  },
  start: (o) =>
    startHttpEmulator({
      port: o.port,
      host: o.host,
      webhookSecret: o.secret,
      ...(o.webhookUrl ? { crmWebhookUrl: o.webhookUrl } : {}),
      ...(o.rateLimit ? { rateLimit: { crm: o.rateLimit, newsletter: o.rateLimit } } : {}),
    }),
  demo: {
    urlKey: 'baseUrl',
    start: startForDemo,
    afterWithdrawal: 'the HTTP CRM shows ada@example.com with consents.email_marketing false',
    links: (id, running) => {
      const origin = new URL(running.url).origin;
      return [
        { label: `HTTP emulator (${id}): API calls`, url: `${origin}/_emulator/calls` },
        {
          label: `HTTP emulator (${id}): Ada in the CRM`,
          url: `${origin}/_emulator/crm/contacts?email=ada@example.com`,
          note: `CRM bearer token ${DEV_CRM_TOKEN}, newsletter X-API-Key ${DEV_NEWSLETTER_API_KEY} unless configured`,
        },
        { label: `HTTP emulator (${id}): newsletter subscribers`, url: `${origin}/_emulator/newsletter/subscribers?email=ada@example.com` },
        { label: `HTTP emulator (${id}): webhook deliveries`, url: `${origin}/_emulator/webhooks` },
        { label: `HTTP emulator (${id}): webhooks the hub sent`, url: `${origin}/_emulator/inbox/crm` },
      ];
    },
  },
});
