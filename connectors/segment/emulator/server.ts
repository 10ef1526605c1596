/**
 * The Segment emulator: the vendor's API as the connector uses it, with in-memory state, built
 * on the emulator kit (`src/connector/emulator-kit/`, connectors/README.md "The emulator kit"):
 * the server, call counting, injected rate limits, webhook delivery and the shared side door are
 * the kit's; what is the vendor's is passed in as hooks.
 *
 * TODO from the vendor's documentation (and checked with its official client where one exists):
 * the API routes the connector calls, their error bodies and limits (`admit`), the webhook wire
 * format and signature (`sign`), and what a user does in the vendor's UI (the side door).
 */
import { z } from 'zod';
import {
  CallLedger,
  EmulatorSideDoor,
  startEmulatorServer,
  WebhookDeliveryLoop,
  type DeliveryAttempt,
  type EmulatorRuntime,
} from '../../../src/connector/emulator-kit/index.js';

export const SegmentEmulatorOptions = z.object({
  port: z.number().int().min(0).max(65_535).default(0),
  host: z.string().default('127.0.0.1'),
  /** The secret webhooks are signed with. */
  secret: z.string().min(1),
  /** When set, only this bearer token is accepted; otherwise any bearer token is. */
  accessToken: z.string().min(1).optional(),
  /** Where webhooks are sent; none are sent when absent. */
  webhookUrl: z.url().optional(),
});
export type SegmentEmulatorOptionsInput = z.input<typeof SegmentEmulatorOptions>;

/** One change the emulator announces by webhook. TODO the vendor's event. */
export interface SegmentChange {
  eventId: string;
  recordId: string;
  occurredAt: string;
}

type Delivery = DeliveryAttempt<SegmentChange>;

/** The side door: the kit's `EmulatorControls` and `WebhookControls`, and what a Segment user does. */
export class SegmentSideDoor extends EmulatorSideDoor<SegmentChange, string, Delivery> {
  /** Addresses whose every API write fails (the API routes check it). */
  readonly poisoned = new Set<string>();

  constructor(ledger: CallLedger, webhooks: WebhookDeliveryLoop<SegmentChange, string, Delivery>) {
    super(ledger, webhooks);
  }

  poison(email: string): void {
    this.poisoned.add(email.trim().toLowerCase());
  }

  /** A user creates a record with this address (which sends a webhook). TODO. */
  userChange(_email: string): never {
    throw new Error('the segment emulator cannot create a record as a user yet (emulator/server.ts)');
  }
}

export interface RunningSegmentEmulator {
  /** Base URL to give the connector as `baseUrl`, e.g. `http://127.0.0.1:41234`. */
  url: string;
  port: number;
  sideDoor: SegmentSideDoor;
  close(): Promise<void>;
}

/** Starts the emulator; `port: 0` picks a free port. */
export async function startSegmentEmulator(
  input: SegmentEmulatorOptionsInput,
  runtime: EmulatorRuntime = {},
): Promise<RunningSegmentEmulator> {
  const options = SegmentEmulatorOptions.parse(input);
  const ledger = new CallLedger();
  const webhooks = new WebhookDeliveryLoop<SegmentChange, string, Delivery>({
    url: options.webhookUrl,
    idOf: (change) => change.eventId,
    maxPerRequest: 100,
    batchMs: 20,
    maxAttempts: 5,
    retryBaseMs: 200,
    timeoutMs: 5_000,
    // TODO the vendor's body and signature headers, signed with `options.secret` (webhook.ts verifies them).
    sign: (items) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(items) }),
    logEntry: (attempt) => attempt,
    now: runtime.now ?? Date.now,
  });
  const sideDoor = new SegmentSideDoor(ledger, webhooks);
  const server = await startEmulatorServer({
    host: options.host,
    port: options.port,
    ...(runtime.logger === undefined ? {} : { logger: runtime.logger }),
    ledger,
    controls: sideDoor,
    authenticate: (req, reply) => {
      const auth = req.headers.authorization;
      const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
      if (token && (options.accessToken === undefined || token === options.accessToken)) return undefined;
      return reply.code(401).send({ message: 'invalid token' }); // TODO the vendor's error body
    },
    refuseInjected: (reply, forced) => {
      const headers: Record<string, string> =
        forced.retryAfterSeconds === undefined ? {} : { 'retry-after': String(forced.retryAfterSeconds) };
      return reply.code(429).headers(headers).send({ message: 'rate limit exceeded' }); // TODO the vendor's 429
    },
    routes: () => {
      // TODO the vendor's API routes the connector calls.
    },
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
