/**
 * The Segment emulator: the three APIs the connector uses, on one server (one base URL), with
 * in-memory state, and the Webhooks (Actions) destination that announces identify calls. Built
 * on the emulator kit (`src/connector/emulator-kit/`): the server, call counting, injected rate
 * limits, webhook delivery and the shared side door are the kit's; what is Segment's is passed in
 * as hooks.
 * - Tracking API `/v1/batch`, `/v1/identify`, ... (`tracking-routes.ts`)
 * - Profile API `/v1/spaces/:spaceId/collections/users/profiles/...` (`profile-routes.ts`)
 * - Public API `/regulations` (`regulation-routes.ts`)
 * - Webhooks (Actions) destination (`webhook-sender.ts`), side door (`side-door.ts`)
 */
import type { FastifyReply } from 'fastify';
import { CallLedger, startEmulatorServer, type EmulatorRuntime } from '../../../src/connector/emulator-kit/index.js';
import { apiOf, registerBodyParsing, sendProfileError, sendPublicError, sendTrackingError } from './errors.js';
import { FixedWindow, RollingWindow } from './limits.js';
import { SegmentEmulatorOptions, type SegmentEmulatorOptionsInput } from './options.js';
import { admitProfiles, authenticateProfiles, registerProfileRoutes } from './profile-routes.js';
import { authenticatePublicApi, registerRegulationRoutes } from './regulation-routes.js';
import { registerSideDoorRoutes, SegmentSideDoor } from './side-door.js';
import { SegmentState } from './state.js';
import { registerTrackingRoutes, TrackingFaults } from './tracking-routes.js';
import { webhookLoop } from './webhook-sender.js';

export type { EmulatorRuntime };

export interface RunningSegmentEmulator {
  /** Base URL of all three APIs, e.g. `http://127.0.0.1:41234` (the side door is `<url>/_emulator`). */
  url: string;
  port: number;
  sideDoor: SegmentSideDoor;
  close(): Promise<void>;
}

/** The 429 each API answers to a call `rateLimitNextCall` queued, with `Retry-After` when given. */
function refuseInjected(reply: FastifyReply, retryAfterSeconds: number | undefined, now: number): FastifyReply {
  if (retryAfterSeconds !== undefined) void reply.header('Retry-After', String(retryAfterSeconds));
  switch (apiOf(reply.request.url)) {
    case 'tracking':
      // The Tracking API's 429 carries Retry-After and X-RateLimit-Reset, both in seconds (http-api/#rate-limits).
      if (retryAfterSeconds !== undefined) void reply.header('X-RateLimit-Reset', String(retryAfterSeconds));
      return sendTrackingError(reply, 429, 'Too Many Requests');
    case 'profiles':
      return sendProfileError(reply, 429, 'rate_limit_error', 'Too many requests hit the API too quickly.');
    default: {
      const ms = (retryAfterSeconds ?? 60) * 1000;
      void reply.header('X-RateLimit-Remaining', '0').header('X-RateLimit-Reset', new Date(now + ms).toUTCString());
      return sendPublicError(reply, 429, [
        { type: 'RequestError', message: 'Too many requests', data: { msBeforeNext: ms, remainingPoints: 0, consumedPoints: 0 } },
      ]);
    }
  }
}

/** Starts the emulator; `port: 0` picks a free port. */
export async function startSegmentEmulator(
  input: SegmentEmulatorOptionsInput,
  runtime: EmulatorRuntime = {},
): Promise<RunningSegmentEmulator> {
  const options = SegmentEmulatorOptions.parse(input);
  const now = runtime.now ?? Date.now;
  const ledger = new CallLedger();
  const webhooks = webhookLoop(options, now);
  const state = new SegmentState(options, now, (message) => webhooks.enqueue(message));
  const faults = new TrackingFaults();
  const sideDoor = new SegmentSideDoor(ledger, webhooks, state, faults);
  const sizes = new WeakMap<object, number>();
  const profileRate = new RollingWindow(options.profileRatePerSecond, 1000, now);
  const creates = new FixedWindow(options.regulationCreatesPerMinute, 60_000, now);
  const requests = new FixedWindow(options.publicApiRequestsPerMinute, 60_000, now);

  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
    bodyLimit: 4 * 1024 * 1024,
    ledger,
    controls: sideDoor,
    prepare: (app) => registerBodyParsing(app, sizes),
    classify: (req) => (apiOf(req.url) === 'side-door' ? undefined : 'call'),
    // The Tracking API checks its write key in the route: it may come in the body.
    authenticate: (req, reply) => {
      switch (apiOf(req.url)) {
        case 'profiles':
          return authenticateProfiles(req, reply, options.profileToken);
        case 'public':
          return authenticatePublicApi(req, reply, options.publicApiToken);
        default:
          return undefined;
      }
    },
    refuseInjected: (reply, forced) => refuseInjected(reply, forced.retryAfterSeconds, now()),
    admit: (req, reply) => (apiOf(req.url) === 'profiles' ? admitProfiles(req, reply, profileRate) : undefined),
    routes: (app) => {
      registerTrackingRoutes(app, { state, options, faults, sizes });
      registerProfileRoutes(app, { state, options, rate: profileRate });
      registerRegulationRoutes(app, { state, options, creates, requests, refused: () => ledger.refused() }, now);
    },
    sideDoorRoutes: (app) => registerSideDoorRoutes(app, sideDoor),
  });
  return {
    url: server.url,
    port: server.port,
    sideDoor,
    async close() {
      await webhooks.close();
      await server.close();
    },
  };
}
