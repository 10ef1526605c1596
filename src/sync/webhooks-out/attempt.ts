/**
 * One delivery attempt of a Standard Webhooks message: signed afresh (a new timestamp, the same
 * `webhook-id`), POSTed through `safeFetch` (redirects never followed), and what the answer means
 * for the message: delivered, retried at the next step of the schedule (or after Retry-After
 * when longer), dead after the last step, or the endpoint gone (410).
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { Webhook } from 'standardwebhooks';
import type { OutboundWebhookEndpoint } from '../../connector/define.js';
import { ConnectorError, parseRetryAfter } from '../../connector/errors.js';
import { safeFetch } from '../../connector/kit/safe-fetch.js';
import type { ClaimedWebhookDelivery, WebhookAttemptOutcome } from '../../store/types.js';
import { MAX_WEBHOOK_BODY_BYTES } from './messages.js';

/** The longest Retry-After honoured: a day, the longest default step. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** What one attempt's answer was. */
export type AttemptResult = { ok: true; status: number } | { ok: false; status: number | null; error: string; retryAfterMs?: number };

/** Signs for one endpoint with every secret it has (several during a rotation). */
export class WebhookSigner {
  readonly #webhooks: Webhook[];

  constructor(secrets: readonly string[]) {
    this.#webhooks = secrets.map((secret) => new Webhook(secret));
  }

  /** The `webhook-signature` header: one `v1,<base64>` per secret, separated by spaces. */
  sign(messageId: string, at: Date, body: string): string {
    return this.#webhooks.map((webhook) => webhook.sign(messageId, at, body)).join(' ');
  }
}

/** POSTs the message once, signed now. Never throws: a failure is a result. */
export async function attemptDelivery(
  endpoint: OutboundWebhookEndpoint,
  signer: WebhookSigner,
  delivery: Pick<ClaimedWebhookDelivery, 'messageId' | 'body'>,
  signal?: AbortSignal,
): Promise<AttemptResult> {
  const at = new Date();
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Concord-Webhooks/1',
    'webhook-id': delivery.messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signer.sign(delivery.messageId, at, delivery.body),
  };
  try {
    const response = await safeFetch(
      { method: 'POST', url: endpoint.url, headers, body: delivery.body, ...(signal ? { signal } : {}) },
      {
        allowPrivateNetwork: endpoint.allowPrivateNetwork,
        timeoutMs: endpoint.timeoutMs,
        maxRequestBytes: MAX_WEBHOOK_BODY_BYTES,
        // Only the status matters; a generous limit so a chatty 2xx is not taken for a failure.
        maxResponseBytes: 1024 * 1024,
      },
    );
    const { status } = response;
    if (status >= 200 && status < 300) return { ok: true, status };
    if (status >= 300 && status < 400) return { ok: false, status, error: `redirect not followed (HTTP ${status})` };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after') ?? undefined);
    return { ok: false, status, error: `HTTP ${status}`, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  } catch (err) {
    // Connector errors name what failed (timeout, refused address) without header values.
    const error = err instanceof ConnectorError ? `${err.code}: ${err.message}` : 'request failed';
    return { ok: false, status: null, error };
  }
}

/**
 * What an attempt means for its message, `attemptsBefore` attempts having been made before it:
 * after attempt n fails, the next is due `schedule[n - 1]` later (or after Retry-After when
 * longer, up to a day); after the last step the message is dead. A 410 disables the endpoint
 * and spends no step.
 */
export function attemptOutcome(
  result: AttemptResult,
  attemptsBefore: number,
  schedule: readonly number[],
  now: number = Date.now(),
): WebhookAttemptOutcome {
  if (result.ok) return { kind: 'delivered', status: result.status };
  if (result.status === 410) return { kind: 'gone' };
  const step = schedule[attemptsBefore];
  if (step === undefined) return { kind: 'dead', status: result.status, error: result.error };
  const delay = Math.max(step, Math.min(result.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
  return { kind: 'retry', status: result.status, error: result.error, nextAttemptAt: new Date(now + delay).toISOString() };
}
