/**
 * Outbound webhooks as operators see them (admin API `/connectors/{id}/webhooks-out`, `concord
 * webhooks-out`): an endpoint's state and counts, its dead letters, redelivering them, enabling a
 * disabled endpoint. Works on the store alone, in any process.
 */
import type { Store, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpointState } from '../../store/types.js';
import type { SyncConnector } from '../bind.js';

/** An endpoint as operators see it. */
export interface WebhooksOutReport {
  connector: string;
  /** The URL the config names, without credentials, query or fragment (where tokens hide). */
  url: string;
  state: WebhookEndpointState;
  disabledAt: string | null;
  reason: string | null;
  lastSuccessAt: string | null;
  counts: Record<WebhookDeliveryStatus, number>;
}

export class WebhooksOutAdmin {
  constructor(
    private readonly store: Pick<
      Store,
      'webhookEndpoint' | 'webhookDeadLetters' | 'redeliverWebhooks' | 'enableWebhookEndpoint' | 'appendAudit'
    >,
    private readonly connectors: readonly Pick<SyncConnector, 'id' | 'outboundWebhooks'>[],
  ) {}

  /** Whether `connector` is an instance that sends outbound webhooks. */
  has(connector: string): boolean {
    return this.#endpoint(connector) !== undefined;
  }

  /** The endpoint's state and counts (an endpoint no push process registered yet reads enabled and empty). */
  async report(connector: string): Promise<WebhooksOutReport> {
    const url = shownUrl(this.#endpoint(connector)?.url ?? '');
    const stored = await this.store.webhookEndpoint(connector);
    return {
      connector,
      url,
      state: stored?.state ?? 'enabled',
      disabledAt: stored?.disabledAt ?? null,
      reason: stored?.reason ?? null,
      lastSuccessAt: stored?.lastSuccessAt ?? null,
      counts: stored?.counts ?? { pending: 0, delivered: 0, dead: 0 },
    };
  }

  deadLetters(connector: string, limit?: number): Promise<WebhookDelivery[]> {
    return this.store.webhookDeadLetters(connector, limit === undefined ? {} : { limit });
  }

  /** Dead letters (all, or those of `messageIds`) back to pending with a fresh schedule; audited. */
  async redeliver(connector: string, actor: string, messageIds?: readonly string[]): Promise<number> {
    const redelivered = await this.store.redeliverWebhooks(connector, messageIds);
    await this.store.appendAudit({ actor, action: 'webhooks_out.redelivered', profileId: null, detail: { connector, redelivered } });
    return redelivered;
  }

  /** Enables the endpoint (its pending messages go at once); returns the state it had. Audited. */
  async enable(connector: string, actor: string): Promise<WebhookEndpointState> {
    const previous = (await this.store.enableWebhookEndpoint(connector)) ?? 'enabled';
    await this.store.appendAudit({ actor, action: 'webhooks_out.enabled', profileId: null, detail: { connector, previous } });
    return previous;
  }

  #endpoint(connector: string): { url: string } | undefined {
    return this.connectors.find((c) => c.id === connector)?.outboundWebhooks;
  }
}

/** `url` without user info, query and fragment. */
function shownUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '';
  }
}
