/**
 * Standard Webhooks out of each system: one POST per message, body `{type, timestamp, data}`,
 * headers `webhook-id` (`msg_<random>`, the same on every retry), `webhook-timestamp` (the
 * attempt's time, in seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` per secret,
 * space-separated: two during a rotation), signed afresh on each attempt with the official
 * `standardwebhooks` library. Any non-2xx is retried with the kit's backoff, except a 410: the
 * receiver is gone, and that URL gets nothing more until it is set again.
 * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { WebhookDeliveryLoop } from '../../../src/connector/emulator-kit/index.js';
import type { HttpSystem } from './options.js';

/** One message a system sends. */
export interface WebhookMessage {
  /** `webhook-id`: `msg_<random>`, stable across retries. */
  id: string;
  system: HttpSystem;
  type: string;
  /** When the change happened (ISO). */
  timestamp: string;
  data: unknown;
}

/** One delivery attempt, as the side door's `webhookDeliveries()` lists it. */
export interface WebhookDelivery {
  /** When the answer came (or the request failed). */
  at: number;
  sentAt: number;
  system: HttpSystem;
  url: string;
  messageId: string;
  type: string;
  attempt: number;
  status: number | 'error';
  acked: boolean;
}

export interface WebhookSenderOptions {
  system: HttpSystem;
  url: string | undefined;
  /** The signing secrets, newest first. */
  secrets: readonly string[];
  maxAttempts: number;
  retryBaseMs: number;
  now: () => number;
}

/** The Standard Webhooks headers of a body: every secret signs it (`standardwebhooks` `sign`), entries space-separated. */
export function standardWebhookHeaders(secrets: readonly string[], id: string, at: Date, body: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(' '),
  };
}

export class StandardWebhookSender {
  readonly loop: WebhookDeliveryLoop<WebhookMessage, string, WebhookDelivery>;
  private secrets: readonly string[];
  private readonly disabled = new Set<string>();
  /** The URL each message was last sent to, for its log entry. */
  private readonly sentTo = new Map<string, string>();

  constructor(private readonly opts: WebhookSenderOptions) {
    this.secrets = [...opts.secrets];
    this.loop = new WebhookDeliveryLoop<WebhookMessage, string, WebhookDelivery>({
      url: opts.url,
      idOf: (m) => m.id,
      maxPerRequest: 1,
      batchMs: 0,
      maxAttempts: opts.maxAttempts,
      retryBaseMs: opts.retryBaseMs,
      retryMaxMs: 60_000,
      timeoutMs: 10_000,
      sign: (items, _attempt, url) => {
        const message = items[0];
        if (!message || this.disabled.has(url)) return undefined;
        this.sentTo.set(message.id, url);
        const body = JSON.stringify({ type: message.type, timestamp: message.timestamp, data: message.data });
        return { headers: standardWebhookHeaders(this.secrets, message.id, new Date(opts.now()), body), body };
      },
      // 410 Gone ends the retries: the endpoint is disabled instead.
      acknowledged: (status) => status === 410 || (status >= 200 && status < 300),
      logEntry: ({ at, sentAt, items, attempt, status, acked }) => {
        const message = items[0];
        const url = (message && this.sentTo.get(message.id)) ?? '';
        if (status === 410) this.disabled.add(url);
        return {
          at,
          sentAt,
          system: opts.system,
          url,
          messageId: message?.id ?? '',
          type: message?.type ?? '',
          attempt,
          status,
          acked: acked && status !== 410,
        };
      },
      now: opts.now,
    });
  }

  /** Queues a message (nothing when no URL is set or the URL answered 410). */
  send(type: string, data: unknown): void {
    const url = this.loop.url;
    if (url === undefined || this.disabled.has(url)) return;
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    this.loop.enqueue({ id, system: this.opts.system, type, timestamp: new Date(this.opts.now()).toISOString(), data });
  }

  /** Where messages go from now on; setting a URL again enables it after a 410. */
  setUrl(url: string | undefined): void {
    if (url !== undefined) this.disabled.delete(url);
    this.loop.setUrl(url);
  }

  get url(): string | undefined {
    return this.loop.url;
  }

  /** Whether the current URL answered 410 (nothing is sent to it). */
  get disabledNow(): boolean {
    return this.loop.url !== undefined && this.disabled.has(this.loop.url);
  }

  /** The signing secrets from now on, newest first (two during a rotation). */
  setSecrets(secrets: readonly string[]): void {
    this.secrets = [...secrets];
  }
}
