/**
 * One Fastify bootstrap for emulators: counts API calls in a `CallLedger`, answers the
 * calls `rateLimitNextCall` queued with the vendor's refusal, runs the vendor's own
 * authentication and limits, and mounts the `/_emulator` side-door routes every emulator shares
 * (`EmulatorControls`, and `WebhookControls` when it sends webhooks over HTTP) beside the
 * vendor's own side-door routes.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { endpointOf, type CallLedger, type EmulatorControls, type InjectedRateLimit, type WebhookControls } from './controls.js';

/** Where the side door is served. */
export const SIDE_DOOR_PREFIX = '/_emulator';

/** How tests run an emulator in process. */
export interface EmulatorRuntime {
  /** Clock for the emulator's timestamps, limits and expiries (tests may move time). */
  now?: () => number;
  /** Log requests (pino through Fastify). Off by default. */
  logger?: boolean;
}

/** How tests run an emulator in process. */
export interface EmulatorRuntime {
  /** Clock for the emulator's timestamps, limits and expiries (tests may move time). */
  now?: () => number;
  /** Log requests (pino through Fastify). Off by default. */
  logger?: boolean;
}

/** How a request counts: an API call, a call listed per endpoint only, or none (side door, views). */
export type RequestKind = 'call' | 'listed' | undefined;

/**
 * A vendor hook that refuses a request by sending the reply (and returning it), or lets it
 * through (`undefined`). Synchronous: a `FastifyReply` is thenable, so it must not be awaited.
 */
export type RequestGate = (req: FastifyRequest, reply: FastifyReply) => FastifyReply | undefined;

export interface EmulatorServerOptions {
  host: string;
  port: number;
  /** Log requests (pino through Fastify). Off by default. */
  logger?: boolean;
  bodyLimit?: number;
  ledger: CallLedger;
  /** The side door: its shared routes are mounted under `/_emulator`. */
  controls: EmulatorControls & Partial<WebhookControls<string | number>>;
  /** How a request counts (default: every request outside `/_emulator` is an API call). */
  classify?(req: FastifyRequest): RequestKind;
  /** Before the hooks and routes: content type parsers, the error handler. */
  prepare?(app: FastifyInstance): void;
  /** Checks an API call's credentials, before the injected rate limits. */
  authenticate?: RequestGate;
  /** Sends the vendor's answer to a call refused by `rateLimitNextCall`. */
  refuseInjected(reply: FastifyReply, injected: InjectedRateLimit): FastifyReply;
  /** Applies the vendor's own limits to an API call; a refusal is counted as rate-limited. */
  admit?: RequestGate;
  /** The vendor's API routes (and its hooks, e.g. `onSend`). */
  routes(app: FastifyInstance): void;
  /** The vendor's own side-door routes (under `/_emulator`). */
  sideDoorRoutes?(app: FastifyInstance): void;
}

export interface EmulatorServer {
  app: FastifyInstance;
  /** `http://<host>:<port>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts an emulator's HTTP server; `port: 0` picks a free port. */
export async function startEmulatorServer(options: EmulatorServerOptions): Promise<EmulatorServer> {
  const { ledger } = options;
  const classify =
    options.classify ?? ((req: FastifyRequest): RequestKind => (req.url.startsWith(`${SIDE_DOOR_PREFIX}/`) ? undefined : 'call'));
  const app = Fastify({ logger: options.logger ?? false, ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }) });
  options.prepare?.(app);

  app.addHook('onRequest', async (req, reply) => {
    const kind = classify(req);
    if (kind === undefined) return;
    ledger.count(endpointOf(req), { total: kind === 'call' });
    if (kind !== 'call') return;
    const denied = options.authenticate?.(req, reply);
    if (denied) return denied;
    const forced = ledger.takeInjected();
    if (forced) return options.refuseInjected(reply, forced);
    const refused = options.admit?.(req, reply);
    if (refused) {
      ledger.refused();
      return refused;
    }
  });

  options.routes(app);
  registerControlRoutes(app, options.controls);
  options.sideDoorRoutes?.(app);

  await app.listen({ port: options.port, host: options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { app, url: `http://${options.host}:${port}`, port, close: () => app.close() };
}

const RateLimitBody = z.object({ retryAfterSeconds: z.number().int().min(0).optional() });
const PoisonBody = z.object({ email: z.string().min(1) });
const RedeliverBody = z.object({ ids: z.array(z.union([z.string(), z.number()])) });

/** The shared side-door routes: `EmulatorControls` (and `WebhookControls`) over HTTP. */
function registerControlRoutes(app: FastifyInstance, controls: EmulatorServerOptions['controls']): void {
  const P = SIDE_DOOR_PREFIX;
  const done = (reply: FastifyReply): FastifyReply => reply.code(204).send();
  app.get(`${P}/calls`, async () => controls.calls());
  app.post(`${P}/calls/reset`, async (_req, reply) => {
    controls.resetCalls();
    return done(reply);
  });
  app.post(`${P}/rate-limit-next-call`, async (req, reply) => {
    controls.rateLimitNextCall(RateLimitBody.parse(req.body ?? {}).retryAfterSeconds);
    return done(reply);
  });
  app.post(`${P}/poison`, async (req, reply) => {
    controls.poison(PoisonBody.parse(req.body).email);
    return done(reply);
  });
  app.post(`${P}/webhooks/flush`, async (_req, reply) => {
    await controls.flushWebhooks();
    return done(reply);
  });
  const { webhookDeliveries, pauseWebhooks, resumeWebhooks, redeliverWebhooks } = controls;
  if (webhookDeliveries) app.get(`${P}/webhooks`, async () => webhookDeliveries.call(controls));
  if (pauseWebhooks && resumeWebhooks) {
    app.post(`${P}/webhooks/pause`, async (_req, reply) => {
      pauseWebhooks.call(controls);
      return done(reply);
    });
    app.post(`${P}/webhooks/resume`, async (_req, reply) => {
      resumeWebhooks.call(controls);
      return done(reply);
    });
  }
  if (redeliverWebhooks) {
    app.post(`${P}/webhooks/redeliver`, async (req, reply) => {
      redeliverWebhooks.call(controls, RedeliverBody.parse(req.body).ids);
      return done(reply);
    });
  }
}
