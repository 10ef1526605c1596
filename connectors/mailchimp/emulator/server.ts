/**
 * The Mailchimp emulator: the Marketing API 3.0 as the connector uses it (lists, members, tags,
 * merge fields, interests, webhooks, batch subscribe, batch operations), with in-memory state,
 * Mailchimp's member rules, its 10-connection ceiling and problem+json errors, form-encoded
 * webhooks with `sources` filtering and optional signing, and a side door. Built on the emulator
 * kit (`src/connector/emulator-kit/`): the server, call counting, injected rate limits, webhook
 * delivery and the shared side door are the kit's; what is Mailchimp's is passed in as hooks.
 * https://mailchimp.com/developer/marketing/api/
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { CallLedger, SIDE_DOOR_PREFIX, startEmulatorServer, type EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';
import { registerBatchSubscribe } from './batch-subscribe.js';
import { BATCH_OPERATION_HEADER, BATCH_RESULTS_PREFIX, BatchRunner } from './batches.js';
import { problem, registerErrorHandling, sendProblem } from './errors.js';
import { apiKeyOf, InFlightLimiter, refuseUnauthenticated } from './limits.js';
import { registerMemberRoutes } from './member-routes.js';
import { MailchimpEmulatorOptions, type MailchimpEmulatorOptionsInput } from './options.js';
import { MailchimpSideDoor, registerSideDoorRoutes } from './side-door.js';
import { MailchimpState } from './state.js';
import { registerWebhookRoutes, setPresetWebhooks } from './webhook-routes.js';
import { WebhookSender } from './webhook-sender.js';

export type { EmulatorRuntime };

export interface RunningMailchimpEmulator {
  /** Base URL without `/3.0`, e.g. `http://127.0.0.1:41234` (the side door is `<url>/_emulator`). */
  url: string;
  /** The API's base URL, `<url>/3.0` (the official client's `basePath`). */
  apiUrl: string;
  port: number;
  sideDoor: MailchimpSideDoor;
  close(): Promise<void>;
}

/** JSON bodies, an empty one included (the official client sends `Content-Type: application/json` on body-less POSTs). */
function acceptEmptyJson(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(Object.assign(new Error('Unexpected token in JSON body'), { statusCode: 400 }), undefined);
    }
  });
}

/** Starts the emulator; `port: 0` picks a free port. */
export async function startMailchimpEmulator(
  input: MailchimpEmulatorOptionsInput = {},
  runtime: EmulatorRuntime = {},
): Promise<RunningMailchimpEmulator> {
  const options = MailchimpEmulatorOptions.parse(input);
  const now = runtime.now ?? Date.now;
  const sender = new WebhookSender({
    presetUrl: options.webhookUrl,
    maxAttempts: options.webhookMaxAttempts,
    retryBaseMs: options.webhookRetryBaseMs,
    now,
  });
  const state = new MailchimpState(options, now, (change) => sender.notify(change));
  setPresetWebhooks(state, sender, options.webhookUrl, options.webhookSigningSecret);
  const limiter = new InFlightLimiter(options.maxConnections);
  const ledger = new CallLedger();
  let requestDelayMs = options.requestDelayMs;
  let hold: { promise: Promise<void>; release: () => void } | undefined;
  const sideDoor = new MailchimpSideDoor({
    state,
    sender,
    limiter,
    ledger,
    presetSigningSecret: options.webhookSigningSecret,
    setRequestDelayMs: (ms) => {
      requestDelayMs = ms;
    },
    holdRequests: (held) => {
      if (held && !hold) {
        let release = (): void => {};
        const promise = new Promise<void>((resolve) => (release = resolve));
        hold = { promise, release };
      } else if (!held && hold) {
        hold.release();
        hold = undefined;
      }
    },
  });
  let baseUrl = '';
  let batches: BatchRunner | undefined;
  const isBatchOperation = (headers: Record<string, unknown>): boolean =>
    batches !== undefined && headers[BATCH_OPERATION_HEADER] === batches.token;

  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
    ledger,
    controls: sideDoor,
    prepare: (app) => {
      acceptEmptyJson(app);
      registerErrorHandling(app);
    },
    // A batch's own operations run inside Mailchimp: neither API calls nor connections.
    classify: (req) => {
      if (req.url.startsWith(`${SIDE_DOOR_PREFIX}/`) || isBatchOperation(req.headers)) return undefined;
      if (req.url.startsWith(`${BATCH_RESULTS_PREFIX}/`)) return 'listed';
      return 'call';
    },
    authenticate: (req, reply) => {
      const key = apiKeyOf(req);
      return key !== undefined && (options.apiKey === undefined || key === options.apiKey) ? undefined : refuseUnauthenticated(reply);
    },
    refuseInjected: (reply, forced) => {
      if (forced.retryAfterSeconds !== undefined) void reply.header('Retry-After', String(forced.retryAfterSeconds));
      return sendProblem(
        reply,
        problem(429, 'Too Many Requests', `You have exceeded the limit of ${options.maxConnections} simultaneous connections.`),
      );
    },
    admit: (req, reply) => limiter.admit(req, reply),
    routes: (app) => {
      const runner = new BatchRunner(app, {
        stepMs: options.batchStepMs,
        resultTtlMs: options.batchResultTtlMs,
        maxPending: options.maxPendingBatches,
        now,
        baseUrl: () => baseUrl,
      });
      batches = runner;
      void app.register(
        async (api) => {
          api.addHook('onRequest', async (req) => {
            if (isBatchOperation(req.headers)) return;
            if (requestDelayMs > 0) await sleep(requestDelayMs);
            if (hold) await hold.promise;
          });
          // https://mailchimp.com/developer/marketing/api/ping/ping/ (a health check that needs a valid key)
          api.get('/ping', async () => ({ health_status: "Everything's Chimpy!" }));
          registerMemberRoutes(api, state);
          registerBatchSubscribe(api, state);
          registerWebhookRoutes(api, state, sender, options);
          runner.register(api);
        },
        { prefix: '/3.0' },
      );
      runner.registerResults(app);
    },
    sideDoorRoutes: (app) => registerSideDoorRoutes(app, sideDoor),
  });
  baseUrl = server.url;
  return {
    url: server.url,
    apiUrl: `${server.url}/3.0`,
    port: server.port,
    sideDoor,
    async close() {
      batches?.close();
      await sender.close();
      await server.close();
    },
  };
}
