/**
 * The generic HTTP emulator: two systems on one server, with in-memory state, for the `http`
 * connector's tests and demo.
 * - a REST CRM under `/crm/v1` (`crm-routes.ts`, `crm-state.ts`): bearer token, cursor paging
 * - a newsletter tool under `/newsletter/api` (`newsletter-routes.ts`, `newsletter-state.ts`):
 *   API key header, offset paging with a `Link` header, batch upserts
 * Each sends Standard Webhooks on every write, user edits and API writes alike
 * (`webhook-sender.ts`), and takes the hub's at its `concord-events` inbox (`inbox.ts`). Built on
 * the emulator kit (`src/connector/emulator-kit/`): server, call ledger, injected rate limits,
 * webhook delivery loop and the shared side door (`side-door.ts`).
 */
import type { FastifyReply } from 'fastify';
import { CallLedger, startEmulatorServer, type EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';
import { CrmState } from './crm-state.js';
import { registerCrmRoutes } from './crm-routes.js';
import { areaOf, INBOX_PATH, registerBodyParsing, sendCrmError, sendNewsletterError } from './errors.js';
import { Inbox } from './inbox.js';
import { CallWindow, hasApiKey, hasBearer } from './limits.js';
import { NewsletterState } from './newsletter-state.js';
import { registerNewsletterRoutes } from './newsletter-routes.js';
import { HttpEmulatorOptions, type HttpEmulatorOptionsInput, type HttpSystem } from './options.js';
import { PoisonList } from './records.js';
import { HttpSideDoor, registerSideDoorRoutes } from './side-door.js';
import { StandardWebhookSender } from './webhook-sender.js';

export type { EmulatorRuntime };

export interface RunningHttpEmulator {
  /** The server's origin, e.g. `http://127.0.0.1:41234`: the CRM is `<url>/crm/v1`, the newsletter tool `<url>/newsletter/api`. */
  url: string;
  port: number;
  sideDoor: HttpSideDoor;
  close(): Promise<void>;
}

/** A system's 429: `Retry-After` when known; CRM `{error: {code: 'rate_limited'}}`, newsletter `{message}`. */
function refuse(reply: FastifyReply, system: HttpSystem, retryAfterSeconds: number | undefined): FastifyReply {
  if (retryAfterSeconds !== undefined) void reply.header('Retry-After', String(retryAfterSeconds));
  return system === 'crm'
    ? sendCrmError(reply, 429, 'rate_limited', 'too many requests')
    : sendNewsletterError(reply, 429, 'too many requests');
}

/** The system an API call is for (the server only asks about calls, which `classify` limits to the two systems). */
const systemOf = (url: string): HttpSystem => (areaOf(url) === 'crm' ? 'crm' : 'newsletter');

/** Starts the emulator; `port: 0` picks a free port. */
export async function startHttpEmulator(input: HttpEmulatorOptionsInput = {}): Promise<RunningHttpEmulator> {
  const options = HttpEmulatorOptions.parse(input);
  const now = input.now ?? Date.now;
  const ledger = new CallLedger();
  const poisoned = new PoisonList();
  const secrets = [options.webhookSecret, ...(options.previousWebhookSecret === undefined ? [] : [options.previousWebhookSecret])];
  const sender = (system: HttpSystem, url: string | undefined): StandardWebhookSender =>
    new StandardWebhookSender({
      system,
      url,
      secrets,
      maxAttempts: options.webhookMaxAttempts,
      retryBaseMs: options.webhookRetryBaseMs,
      now,
    });
  const senders = { crm: sender('crm', options.crmWebhookUrl), newsletter: sender('newsletter', options.newsletterWebhookUrl) };
  const crm = new CrmState(now, poisoned, (event) =>
    event.type === 'contact.deleted' ? senders.crm.send(event.type, { id: event.id }) : senders.crm.send(event.type, event.contact),
  );
  const newsletter = new NewsletterState(now, poisoned, (id) => senders.newsletter.send('subscriber.changed', { subscriber_id: id }));
  const inboxSecret = options.inboxSecret ?? options.webhookSecret;
  const inboxes = { crm: new Inbox(inboxSecret, now), newsletter: new Inbox(inboxSecret, now) };
  const windows = { crm: new CallWindow(options.rateLimit.crm, now), newsletter: new CallWindow(options.rateLimit.newsletter, now) };
  const sideDoor = new HttpSideDoor(ledger, { crm, newsletter, senders, inboxes, poisoned });

  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(input.logger === undefined ? {} : { logger: input.logger }),
    bodyLimit: 8 * 1024 * 1024,
    ledger,
    controls: sideDoor,
    prepare: registerBodyParsing,
    // The inboxes are listed per endpoint, not API calls: no credentials, no rate limit (the signature is checked).
    classify: (req) => {
      const area = areaOf(req.url);
      if (area !== 'crm' && area !== 'newsletter') return undefined;
      return req.url.split('?')[0]?.endsWith(INBOX_PATH) ? 'listed' : 'call';
    },
    authenticate: (req, reply) => {
      if (systemOf(req.url) === 'crm') {
        return hasBearer(req, options.crmToken) ? undefined : sendCrmError(reply, 401, 'unauthorized', 'a valid bearer token is required');
      }
      return hasApiKey(req, options.newsletterApiKey) ? undefined : sendNewsletterError(reply, 401, 'a valid X-API-Key is required');
    },
    refuseInjected: (reply, forced) => refuse(reply, systemOf(reply.request.url), forced.retryAfterSeconds),
    admit: (req, reply) => {
      const system = systemOf(req.url);
      const taken = windows[system].take();
      return taken.ok ? undefined : refuse(reply, system, taken.retryAfterSeconds);
    },
    routes: (app) => {
      registerCrmRoutes(app, crm, inboxes.crm);
      registerNewsletterRoutes(app, newsletter, inboxes.newsletter);
    },
    sideDoorRoutes: (app) => registerSideDoorRoutes(app, sideDoor),
  });
  return {
    url: server.url,
    port: server.port,
    sideDoor,
    async close() {
      await Promise.all([senders.crm.loop.close(), senders.newsletter.loop.close()]);
      await server.close();
    },
  };
}
