/**
 * The `concord-events` inboxes: where the hub's outbound webhooks land in each system. A message
 * is verified with the official `standardwebhooks` library (`verify`: signature, ±5 min window),
 * recorded once per `webhook-id` (a redelivery counts an attempt), and answered with the status
 * the side door set (204 by default).
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#verifying-webhook-authenticity
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** A message the hub sent, as the inbox recorded it. */
export interface InboxMessage {
  /** `webhook-id`. */
  id: string;
  /** The payload's `type`, when it has one. */
  type: string | undefined;
  /** The verified JSON body. */
  payload: unknown;
  /** When it was first received (ISO). */
  receivedAt: string;
  /** Verified deliveries of this id (redeliveries included). */
  attempts: number;
  /** Whether one of them was answered 2xx. */
  acknowledged: boolean;
}

/** Why a delivery was refused: its signature (401) or its body (400, signed but not JSON). */
export type InboxRefusal = { refused: 'signature' | 'body'; message: string };

const typeOf = (payload: unknown): string | undefined =>
  typeof payload === 'object' && payload !== null && 'type' in payload && typeof payload.type === 'string' ? payload.type : undefined;

/** The request's headers as the library takes them (repeated headers: the first). */
function plainHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[key] = first;
  }
  return out;
}

export class Inbox {
  private readonly messages = new Map<string, InboxMessage>();
  /** The status deliveries are answered with. */
  status = 204;

  constructor(
    /** The `whsec_` secret deliveries are verified with. */
    public secret: string,
    private readonly now: () => number,
  ) {}

  /** Verifies and records one delivery; the recorded message, or why it was refused. */
  receive(raw: string, headers: IncomingHttpHeaders): InboxMessage | InboxRefusal {
    let payload: unknown;
    try {
      payload = new Webhook(this.secret).verify(raw, plainHeaders(headers));
    } catch (e) {
      return e instanceof WebhookVerificationError
        ? { refused: 'signature', message: e.message }
        : { refused: 'body', message: 'the body is not JSON' };
    }
    const id = plainHeaders(headers)['webhook-id'] ?? '';
    const acknowledged = this.status >= 200 && this.status < 300;
    const known = this.messages.get(id);
    if (known) {
      known.attempts += 1;
      known.acknowledged ||= acknowledged;
      return { ...known };
    }
    const message: InboxMessage = {
      id,
      type: typeOf(payload),
      payload,
      receivedAt: new Date(this.now()).toISOString(),
      attempts: 1,
      acknowledged,
    };
    this.messages.set(id, message);
    return { ...message };
  }

  /** Every message received, in order of first receipt. */
  list(): InboxMessage[] {
    return [...this.messages.values()].map((m) => ({ ...m }));
  }
}

/** A system's error answer (its own body shape). */
export type SendError = (reply: FastifyReply, status: number, message: string) => FastifyReply;

/** `POST <prefix>/concord-events`: verified (401 on a bad signature, 400 on a signed non-JSON body), recorded, answered `inbox.status`. */
export function registerInboxRoute(app: FastifyInstance, path: string, inbox: Inbox, sendError: SendError): void {
  app.post(path, async (req, reply) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const outcome = inbox.receive(raw, req.headers);
    if ('refused' in outcome) return sendError(reply, outcome.refused === 'signature' ? 401 : 400, outcome.message);
    return reply.code(inbox.status).send();
  });
}
