/**
 * Webhook ingress: `POST /webhooks/:connectorId`. The body is kept as raw bytes (signatures
 * cover them) and capped; the connector verifies and parses it through the engine, which
 * dedupes on the event id and enqueues. Nothing is enqueued for a refused request:
 * unknown connector 404, oversized body 413, bad signature 401, malformed body 400. The reply
 * is the connector's (e.g. a SOAP Ack), sent once the events are safely queued.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { RawWebhook, WebhookReply } from '../connector/define.js';
import type { SyncConnector } from '../sync/bind.js';
import type { ServerEngine } from './deps.js';
import type { HttpMetrics } from './metrics.js';

export interface WebhookRouteOptions {
  engine: ServerEngine;
  /** `hub.publicUrl`: the webhook URLs the senders were given start with it. */
  publicUrl: string;
  connectors: readonly SyncConnector[];
  bodyLimit: number;
  /** Requests per minute per client address and connector; 0 means no limit. */
  rateLimit: number;
  metrics: HttpMetrics;
  logger: Logger;
}

/** Seconds a sender is asked to wait before retrying a webhook the hub could not queue. */
const RETRY_AFTER_SEC = 5;

type WebhookRequest = FastifyRequest<{ Params: { connectorId: string } }>;

function problem(reply: FastifyReply, status: number, code: string, detail: string): FastifyReply {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title: detail, status, code });
}

/**
 * The URL the sender was given for a request: the hub's public URL (its path included) followed
 * by the request's path and query, byte for byte. Never built from `Host` or `X-Forwarded-*`:
 * signatures cover the URL (HubSpot v3), and a URL the request chooses would let a delivery
 * signed for another endpoint of the same app (a staging hub) verify here.
 */
export function senderUrl(publicUrl: string, requestUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${requestUrl}`;
}

function send(reply: FastifyReply, answer: WebhookReply): FastifyReply {
  reply.code(answer.status);
  if (answer.contentType) reply.type(answer.contentType);
  return reply.send(answer.body ?? '');
}

export async function registerWebhooks(app: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const accepting = new Set(options.connectors.filter((c) => c.capabilities.webhooks).map((c) => c.id));

  await app.register(async (scope) => {
    // Every content type is read as bytes, whatever the sender claims (JSON, SOAP XML, forms).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_request, body, done) => {
      done(null, body);
    });
    scope.setErrorHandler((error: { statusCode?: number; code?: string; message: string }, request: WebhookRequest, reply) => {
      const status = error.statusCode ?? 500;
      const connector = request.params.connectorId;
      options.metrics.webhooks.inc({ connector: accepting.has(connector) ? connector : 'unknown', status: String(status >= 500 ? 503 : status) });
      if (status === 413) return problem(reply, 413, 'body_too_large', `the body exceeds ${options.bodyLimit} bytes`);
      if (status === 429) return problem(reply, 429, 'rate_limited', 'too many webhook requests');
      if (status < 500) return problem(reply, status, 'bad_request', error.message);
      // The sender retries on 5xx; nothing was acknowledged.
      const redisDown = error.code === 'sync.redis_unavailable';
      if (!redisDown) options.logger.error({ connector, err: { name: error.code ?? 'error', message: error.message } }, 'webhook not enqueued');
      reply.header('retry-after', String(RETRY_AFTER_SEC));
      return problem(reply, 503, redisDown ? 'redis_unavailable' : 'unavailable', 'the webhook could not be queued; try again');
    });

    scope.post<{ Params: { connectorId: string } }>(
      '/webhooks/:connectorId',
      {
        bodyLimit: options.bodyLimit,
        config: {
          rateLimit:
            options.rateLimit > 0
              ? { max: options.rateLimit, timeWindow: '1 minute', keyGenerator: (r: FastifyRequest) => `${r.ip}|${(r.params as { connectorId?: string }).connectorId ?? ''}` }
              : false,
        },
        // Refuse unknown connectors before reading a byte of the body.
        onRequest: async (request, reply) => {
          if (!accepting.has(request.params.connectorId)) {
            options.metrics.webhooks.inc({ connector: 'unknown', status: '404' });
            return problem(reply, 404, 'unknown_connector', 'no connector takes webhooks at this address');
          }
        },
      },
      async (request, reply) => {
        const connector = request.params.connectorId;
        const timer = options.metrics.webhookSeconds.startTimer({ connector });
        const raw: RawWebhook = {
          method: request.method,
          url: senderUrl(options.publicUrl, request.url),
          headers: request.headers,
          body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          receivedAt: new Date().toISOString(),
        };
        const result = await options.engine.receiveWebhook(connector, raw);
        timer();
        if (!result.ok) {
          options.metrics.webhooks.inc({ connector, status: String(result.status) });
          options.logger.warn({ connector, status: result.status, reason: result.reason }, 'webhook refused');
          // Some senders expect their own error format (e.g. a SOAP fault); the connector writes it.
          const instance = result.status === 404 ? undefined : await options.engine.instance(connector);
          if (instance?.refuse) return send(reply, instance.refuse({ status: result.status, reason: result.reason }));
          const code = result.status === 401 ? 'bad_signature' : result.status === 400 ? 'malformed_body' : 'unknown_connector';
          return problem(reply, result.status, code, result.status === 401 ? 'the signature does not verify' : result.reason);
        }
        options.metrics.webhooks.inc({ connector, status: String(result.reply.status) });
        return send(reply, result.reply);
      },
    );
  });
}
