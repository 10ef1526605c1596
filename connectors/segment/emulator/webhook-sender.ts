/**
 * The Webhooks (Actions) destination: every accepted identify (from any source) is POSTed to the
 * destination's URL as the Segment message JSON, one event per request (option
 * `webhookBatchSize` > 1: a JSON array, as the destination's batching sends), signed with
 * `X-Signature: <hex HMAC-SHA1(sharedSecret, raw body)>`. There is no timestamp in the
 * signature, so receivers dedupe on messageId. Retries, pause and redelivery are the emulator
 * kit's `WebhookDeliveryLoop` (retried until a 2xx). In Segment the destination is connected to
 * chosen sources; the emulator's takes every source's identify calls.
 * https://segment.com/docs/connections/destinations/catalog/actions-webhook/ (X-Signature: "a
 * hex-encoded SHA1 hash generated using the shared secret and the request body"; batch size 1,000
 * by default, 4,000 at most)
 */
import { createHmac } from 'node:crypto';
import { WebhookDeliveryLoop } from '../../../src/connector/emulator-kit/index.js';
import type { SegmentEmulatorOptions } from './options.js';
import type { SegmentMessage } from './state.js';

/** One delivery attempt, as the side door's `webhookDeliveries()` lists it. */
export interface WebhookDelivery {
  at: number;
  messageIds: string[];
  attempt: number;
  status: number | 'error';
  acked: boolean;
}

export type WebhookLoop = WebhookDeliveryLoop<SegmentMessage, string, WebhookDelivery>;

/** `X-Signature` of a body: hex HMAC-SHA1 of the raw body with the destination's shared secret. */
export function segmentSignature(secret: string, body: string | Buffer): string {
  return createHmac('sha1', secret).update(body).digest('hex');
}

export function webhookLoop(
  options: Pick<SegmentEmulatorOptions, 'webhookUrl' | 'secret' | 'webhookBatchSize' | 'webhookMaxAttempts' | 'webhookRetryBaseMs'>,
  now: () => number,
): WebhookLoop {
  const batched = options.webhookBatchSize > 1;
  return new WebhookDeliveryLoop<SegmentMessage, string, WebhookDelivery>({
    url: options.webhookUrl,
    idOf: (message) => message.messageId,
    maxPerRequest: options.webhookBatchSize,
    batchMs: batched ? 20 : 0,
    maxAttempts: options.webhookMaxAttempts,
    retryBaseMs: options.webhookRetryBaseMs,
    retryMaxMs: 60_000,
    timeoutMs: 10_000,
    sign: (items) => {
      if (items.length === 0) return undefined;
      const body = JSON.stringify(batched ? items : items[0]);
      return {
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Segment (Actions)',
          'x-signature': segmentSignature(options.secret, body),
        },
        body,
      };
    },
    logEntry: ({ at, items, attempt, status, acked }) => ({ at, messageIds: items.map((m) => m.messageId), attempt, status, acked }),
    now,
  });
}
