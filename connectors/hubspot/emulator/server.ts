/**
 * The HubSpot emulator: a Fastify server with in-memory state that speaks the HubSpot API the
 * connector uses, enforces HubSpot's rate limits, sends signed webhooks for every change
 * (Concord's own writes included, as HubSpot does) and opens a side door for tests and the demo.
 */
import Fastify from 'fastify';
import { errorBody } from './errors.js';
import { registerApiRoutes, registerErrorHandling } from './api-routes.js';
import { HubSpotEmulatorOptions, type HubSpotEmulatorOptionsInput } from './options.js';
import { RateLimiter, rateLimitBody } from './rate-limiter.js';
import { registerSideDoorRoutes, SideDoor, type InjectedRateLimit } from './side-door.js';
import { API_CHANGE_SOURCE, HubSpotState, type ChangeOrigin } from './state.js';
import { WebhookSender } from './webhook-sender.js';

export interface RunningHubSpotEmulator {
  /** Base URL to hand the client as `basePath`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  sideDoor: SideDoor;
  close(): Promise<void>;
}

export interface EmulatorRuntime {
  /** Clock used for timestamps and limits (tests may move time). */
  now?: () => number;
  /** Log requests (pino through Fastify). Off by default. */
  logger?: boolean;
}

const SIDE_DOOR_PREFIX = '/_emulator/';

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
  const counts = { total: 0, byEndpoint: new Map<string, number>(), rateLimited: 0 };
  const injected: InjectedRateLimit[] = [];
  const sideDoor = new SideDoor(state, webhooks, limiter, counts, options.rateLimit, injected);
  // Writes through the API are attributed to the private app, which is how an integration recognises its own echo.
  const apiOrigin: ChangeOrigin = { changeSource: API_CHANGE_SOURCE, sourceId: String(options.appId), statusSource: 'Public Status API' };

  const app = Fastify({ logger: runtime.logger ?? false });
  registerErrorHandling(app);

  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith(SIDE_DOOR_PREFIX)) return;
    const endpoint = `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`;
    counts.total += 1;
    counts.byEndpoint.set(endpoint, (counts.byEndpoint.get(endpoint) ?? 0) + 1);

    const auth = req.headers.authorization;
    const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (!token || (options.accessToken !== undefined && token !== options.accessToken)) {
      return reply
        .code(401)
        .send(
          errorBody(
            'INVALID_AUTHENTICATION',
            'Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview',
          ),
        );
    }
    const forced = injected.shift();
    if (forced) {
      counts.rateLimited += 1;
      const headers: Record<string, string> = forced.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(forced.retryAfterSeconds) };
      return reply.code(429).headers(headers).send(rateLimitBody(forced.policyName));
    }
    const decision = limiter.take(req.routeOptions.url?.endsWith('/search') ? 'search' : 'standard');
    void reply.headers(decision.headers);
    if (!decision.ok) {
      counts.rateLimited += 1;
      return reply.code(429).send(decision.body);
    }
  });
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
  registerSideDoorRoutes(app, sideDoor);

  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    url: `http://${options.host}:${port}`,
    port,
    sideDoor,
    async close() {
      await webhooks.close();
      await app.close();
    },
  };
}
