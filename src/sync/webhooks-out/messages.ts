/**
 * A connector instance's `OutboundWebhooks` (`ConnectorContext.outboundWebhooks`): messages are
 * checked, turned into the bytes every attempt sends (`{type, timestamp, data}`), and stored; the
 * delivery worker of a `push` process sends them.
 */
import type { OutboundWebhookMessage, OutboundWebhooks, OutboundWebhookStatus } from '../../connector/define.js';
import { isWebhookMessageId } from '../../connector/kit/outbound-webhooks.js';
import type { NewWebhookDelivery, WebhooksOutRepository } from '../../store/types.js';

/** Largest message body stored (and sent: `safeFetch`'s request limit). */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/** A message the hub cannot send: an id unfit for `webhook-id`, no type, a body over the limit. */
export class OutboundWebhookMessageError extends Error {
  readonly code = 'sync.invalid_webhook_message';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundWebhookMessageError';
  }
}

/** The stored form of each message, in order, the first of each id kept. Throws on a message the hub cannot send. */
export function toDeliveries(messages: readonly OutboundWebhookMessage[]): NewWebhookDelivery[] {
  const seen = new Set<string>();
  const out: NewWebhookDelivery[] = [];
  for (const message of messages) {
    if (!isWebhookMessageId(message.id))
      throw new OutboundWebhookMessageError('a webhook message id is 1 to 256 printable ASCII characters without spaces or "."');
    if (message.type.trim() === '') throw new OutboundWebhookMessageError(`webhook message ${message.id} has no type`);
    // https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md#payload-structure
    const body = JSON.stringify({ type: message.type, timestamp: message.at, data: message.data });
    if (Buffer.byteLength(body) > MAX_WEBHOOK_BODY_BYTES)
      throw new OutboundWebhookMessageError(`webhook message ${message.id} is over ${MAX_WEBHOOK_BODY_BYTES} bytes`);
    if (seen.has(message.id)) continue;
    seen.add(message.id);
    out.push({ messageId: message.id, type: message.type, body });
  }
  return out;
}

/**
 * The `OutboundWebhooks` of endpoint `endpoint` (the instance id), on the store. `enqueued` is
 * told once messages are stored (a delivery worker in this process starts on them at once).
 */
export function storeOutboundWebhooks(store: WebhooksOutRepository, endpoint: string, enqueued: () => void): OutboundWebhooks {
  return {
    async enqueue(messages) {
      const deliveries = toDeliveries(messages);
      if (deliveries.length === 0) return;
      if ((await store.enqueueWebhooks(endpoint, deliveries)) > 0) enqueued();
    },
    async status(ids) {
      const { state, statuses } = await store.webhookStatuses(endpoint, ids);
      // A pending message of a disabled endpoint goes nowhere until an operator enables it.
      const disabled = state !== null && state !== 'enabled';
      return statuses.map((status): OutboundWebhookStatus => {
        if (status === null) return 'unknown';
        if (status === 'delivered') return 'delivered';
        if (status === 'dead' || disabled) return 'failed';
        return 'pending';
      });
    },
  };
}
