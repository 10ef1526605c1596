/**
 * The HubSpot emulator: a Fastify server with in-memory state that speaks the HubSpot API the
 * connector uses, enforces HubSpot's rate limits, sends signed webhooks for every change
 * (Concord's own writes included, as HubSpot does) and opens a side door for tests and the demo.
 * Built on the emulator kit (`src/connector/emulator-kit/`): the server, call counting and
 * webhook delivery are the kit's; what is HubSpot's is passed in as hooks.
 */
import { CallLedger, startEmulatorServer, type EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';
import { errorBody } from './errors.js';
import { registerApiRoutes, registerErrorHandling } from './api-routes.js';
import { HubSpotEmulatorOptions, type HubSpotEmulatorOptionsInput } from './options.js';
import { RateLimiter, rateLimitBody } from './rate-limiter.js';
import { registerSideDoorRoutes, SideDoor } from './side-door.js';
import { API_CHANGE_SOURCE, HubSpotState, type ChangeOrigin } from './state.js';
import { WebhookSender } from './webhook-sender.js';
import { ACCESS_TOKEN_INFO_PATH, registerTokenRoutes } from './token-routes.js';

export interface RunningHubSpotEmulator {
  /** Base URL to hand the client as `basePath`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  sideDoor: SideDoor;
  close(): Promise<void>;
}

export type { EmulatorRuntime };

/** Starts the emulator; `port: 0` picks a free port. */
export async function startHubSpotEmulator(
  input: HubSpotEmulatorOptionsInput,
  runtime: EmulatorRuntime = {},
): Promise<RunningHubSpotEmulator> {
  const options = HubSpotEmulatorOptions.parse(input);
  const now = runtime.now ?? Date.now;
  const webhooks = new WebhookSender({
    url: options.webhookUrl,
    clientSecret: options.clientSecret,
    appId: options.appId,
    portalId: options.portalId,
    batchMs: options.webhookBatchMs,
    maxAttempts: options.webhookMaxAttempts,
    retryBaseMs: options.webhookRetryBaseMs,
    now,
  });
  const state = new HubSpotState(options, now, (change) => webhooks.notify(change));
  const limiter = new RateLimiter(options.rateLimit, now);
  const ledger = new CallLedger();
  const sideDoor = new SideDoor(state, webhooks.loop, limiter, ledger, options.rateLimit);
  // Writes through the API are attributed to the private app, which is how an integration recognises its own echo.
  const apiOrigin: ChangeOrigin = { changeSource: API_CHANGE_SOURCE, sourceId: String(options.appId), statusSource: 'Public Status API' };

  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
    ledger,
    controls: sideDoor,
    prepare: registerErrorHandling,
    authenticate: (req, reply) => {
      // The token to introspect travels in the body: that call needs no Authorization header.
      if (req.url === ACCESS_TOKEN_INFO_PATH) return undefined;
      const auth = req.headers.authorization;
      const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      if (token && (options.accessToken === undefined || token === options.accessToken)) return undefined;
      return reply
        .code(401)
        .send(
          errorBody(
            'INVALID_AUTHENTICATION',
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          ),
        );
    },
    refuseInjected: (reply, forced) => {
      const headers: Record<string, string> =
        forced.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(forced.retryAfterSeconds) };
      return reply.code(429).headers(headers).send(rateLimitBody('TEN_SECONDLY_ROLLING'));
    },
    admit: (req, reply) => {
      const decision = limiter.take(req.routeOptions.url?.endsWith('/search') ? 'search' : 'standard');
      void reply.headers(decision.headers);
      return decision.ok ? undefined : reply.code(429).send(decision.body);
    },
    routes: (app) => {
      app.addHook('onSend', async (_req, reply, payload) => {
        if (!reply.hasHeader('x-hubspot-correlation-id')) void reply.header('X-HubSpot-Correlation-Id', crypto.randomUUID());
        return payload;
      });
      registerApiRoutes(app, {
        state,
        now,
        origin: apiOrigin,
        searchResultCap: () => options.searchResultCap,
        searchIndexLagMs: () => options.searchIndexLagMs,
        gdprEnabled: options.gdprEnabled,
      });
      registerTokenRoutes(app, {
        accessToken: options.accessToken,
        appId: options.appId,
        portalId: options.portalId,
        scopes: () => options.scopes,
      });
    },
    sideDoorRoutes: (app) => registerSideDoorRoutes(app, sideDoor),
  });
  return {
    url: server.url,
    port: server.port,
    sideDoor,
    async close() {
      await webhooks.loop.close();
      await server.close();
    },
  };
}
