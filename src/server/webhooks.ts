/**
 * Webhook ingress: `POST /webhooks/:connectorId`, or `POST /webhooks/:connectorId/:token` for
 * senders that authenticate by a secret in the URL (Salesforce Outbound Messages, Mailchimp), and
 * the `GET` some senders validate the address with (the connector's `validation`). Before a
 * byte of the body is read, the connector admits the request (`admit`: the URL token, the
 * declared size), so a refused sender costs no parsing. The body is kept as raw bytes
 * (signatures cover them) and capped; the connector verifies and parses it through the engine,
 * which dedupes on the event id and enqueues. Nothing is enqueued for a refused request:
 * unknown connector (or any other method or path under /webhooks) 404, oversized body 413, bad
 * signature or URL token 401, malformed body 400, all RFC 9457 problems. The reply is the
 * connector's (e.g. a SOAP Ack), sent once the events are safely queued; a refusal is in the
 * connector's format when it has one (a SOAP fault). Each refusal is logged
 * once, with the connector's fixed reason and never the URL (it may carry the token).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdmitResult, RawWebhook, WebhookReply } from '../connector/define.js';
import type { SyncConnector } from '../sync/index.js';
import type { ServerEngine } from './deps.js';
import type { HttpMetrics } from './metrics.js';
import { ApiProblem, sendProblem } from './problem.js';

export interface WebhookRouteOptions {
  engine: ServerEngine;
  /** `hub.publicUrl`: the webhook URLs the senders were given start with it. */
  publicUrl: string;
  connectors: readonly SyncConnector[];
  bodyLimit: number;
  /** Requests per minute per client address and connector; 0 means no limit. */
  rateLimit: number;
  metrics: HttpMetrics;
}

/** Seconds a sender is asked to wait before retrying a webhook the hub could not queue. */
const RETRY_AFTER_SEC = 5;

type WebhookParams = { connectorId: string; token?: string };
type Instance = Awaited<ReturnType<ServerEngine['instance']>>;
type WebhookRequest = FastifyRequest<{ Params: WebhookParams }>;

/** Whether the connector lets this request be read; without `admit`, a URL token has no place. */
function admission(instance: Instance, request: WebhookRequest): AdmitResult | { ok: false; status: 404; reason: string } {
  const { token } = request.params;
  if (instance.admit)
    return instance.admit({
      method: request.method,
      url: request.url,
      headers: request.headers,
      ...(token === undefined ? {} : { urlToken: token }),
    });
  return token === undefined ? { ok: true } : { ok: false, status: 404, reason: 'no connector takes webhooks at this address' };
}

/** Refusals are problem details (RFC 9457), the same format as the admin API's errors. */
function problem(reply: FastifyReply, status: number, code: string, title: string): FastifyReply {
  return sendProblem(reply, new ApiProblem(status, code, title));
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

  await app.register(
    async (scope) => {
      // Every content type is read as bytes, whatever the sender claims (JSON, SOAP XML, forms).
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.bodyLimit }, (_request, body, done) => {
        done(null, body);
      });
      scope.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request: WebhookRequest, reply) => {
        const status = error.statusCode ?? 500;
        const connector = request.params.connectorId;
        options.metrics.webhooks.inc({
          connector: accepting.has(connector) ? connector : 'unknown',
          status: String(status >= 500 ? 503 : status),
        });
        if (status === 413) return problem(reply, 413, 'body_too_large', `the body exceeds ${options.bodyLimit} bytes`);
        if (status === 429) return problem(reply, 429, 'rate_limited', 'too many webhook requests');
        if (status < 500) return problem(reply, status, 'bad_request', error.message);
        // The sender retries on 5xx; nothing was acknowledged.
        reply.header('retry-after', String(RETRY_AFTER_SEC));
        if (error.code === 'sync.redis_unavailable')
          return problem(reply, 503, 'redis_unavailable', 'the webhook could not be queued; try again');
        request.log.error({ connector, err: error }, 'webhook not enqueued');
        return problem(reply, 503, 'unavailable', 'the webhook could not be queued; try again');
      });

      const refuse = (
        request: FastifyRequest,
        reply: FastifyReply,
        connector: string,
        instance: Instance | undefined,
        status: number,
        reason: string,
      ): FastifyReply => {
        options.metrics.webhooks.inc({ connector, status: String(status) });
        request.log.warn({ connector, status, reason }, 'webhook refused');
        // Some senders expect their own error format (e.g. a SOAP fault); the connector writes it.
        if (status !== 404 && instance?.refuse) return send(reply, instance.refuse({ status, reason }));
        if (status === 404) return problem(reply, 404, 'unknown_connector', 'no connector takes webhooks at this address');
        if (status === 413) return problem(reply, 413, 'body_too_large', reason);
        if (status === 401) return problem(reply, 401, 'bad_signature', 'the signature does not verify');
        return problem(reply, status, 'malformed_body', reason);
      };

      // Any other method or path under /webhooks is no webhook address either: the same problem.
      scope.setNotFoundHandler((_request, reply) =>
        problem(reply, 404, 'unknown_connector', 'no connector takes webhooks at this address'),
      );

      // Per client address and connector, for deliveries and validation GETs alike.
      const rateLimit =
        options.rateLimit > 0
          ? {
              max: options.rateLimit,
              timeWindow: '1 minute',
              keyGenerator: (r: FastifyRequest) => `${r.ip}|${(r.params as { connectorId?: string }).connectorId ?? ''}`,
            }
          : false;

      // A sender's validation GET (Mailchimp), for a connector that answers one, once admitted.
      scope.get<{ Params: WebhookParams }>('/:connectorId/:token?', { config: { rateLimit } }, async (request, reply) => {
        const connector = request.params.connectorId;
        const notFound = (): FastifyReply => problem(reply, 404, 'unknown_connector', 'no connector takes webhooks at this address');
        if (!accepting.has(connector)) return notFound();
        const instance = await options.engine.instance(connector);
        if (!instance.validation) return notFound();
        const admitted = admission(instance, request);
        if (!admitted.ok) return refuse(request, reply, connector, instance, admitted.status, admitted.reason);
        return send(
          reply,
          instance.validation({
            method: request.method,
            url: senderUrl(options.publicUrl, request.url),
            headers: request.headers,
            ...(request.params.token === undefined ? {} : { urlToken: request.params.token }),
          }),
        );
      });

      scope.post<{ Params: WebhookParams }>(
        '/:connectorId/:token?',
        {
          bodyLimit: options.bodyLimit,
          config: { rateLimit },
          // Refuse unknown connectors, and requests the connector does not admit, before reading a byte of the body.
          onRequest: async (request, reply) => {
            const connector = request.params.connectorId;
            if (!accepting.has(connector)) {
              options.metrics.webhooks.inc({ connector: 'unknown', status: '404' });
              return problem(reply, 404, 'unknown_connector', 'no connector takes webhooks at this address');
            }
            const instance = await options.engine.instance(connector);
            const admitted = admission(instance, request);
            if (!admitted.ok) return refuse(request, reply, connector, instance, admitted.status, admitted.reason);
          },
        },
        async (request, reply) => {
          const connector = request.params.connectorId;
          const timer = options.metrics.webhookSeconds.startTimer({ connector });
          const raw: RawWebhook = {
            method: request.method,
            url: senderUrl(options.publicUrl, request.url),
            ...(request.params.token === undefined ? {} : { urlToken: request.params.token }),
            headers: request.headers,
            body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
            receivedAt: new Date().toISOString(),
          };
          const result = await options.engine.receiveWebhook(connector, raw);
          timer();
          if (!result.ok) {
            const instance = result.status === 404 ? undefined : await options.engine.instance(connector);
            return refuse(request, reply, connector, instance, result.status, result.reason);
          }
          options.metrics.webhooks.inc({ connector, status: String(result.reply.status) });
          return send(reply, result.reply);
        },
      );
    },
    { prefix: '/webhooks' },
  );
}
