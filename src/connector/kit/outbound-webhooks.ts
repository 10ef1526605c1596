/**
 * What a connector that sends outbound Standard Webhooks (`ConnectorDefinition.outboundWebhooks`)
 * needs: the spec's default retry schedule and the shape of a message id.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */

/** Delays between attempts after the first: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (ten attempts over about 3.3 days). */
export const STANDARD_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  14 * 3_600_000,
  20 * 3_600_000,
  24 * 3_600_000,
];

/** Printable ASCII without spaces or '.', 1 to 256 characters: a `webhook-id` that signs unambiguously. */
const MESSAGE_ID = /^[\x21-\x2d\x2f-\x7e]{1,256}$/;

/** Whether `id` can be a `webhook-id` (the signed content is `id.timestamp.body`, so no '.'). */
export function isWebhookMessageId(id: string): boolean {
  return MESSAGE_ID.test(id);
}
