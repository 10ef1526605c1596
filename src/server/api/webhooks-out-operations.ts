/**
 * The admin API's outbound webhooks operations (`/api/v1/connectors/{id}/webhooks-out`, scope
 * `admin`): an endpoint's state and counts, its dead letters, redelivering them, enabling it
 * again after a 410 or a failing receiver disabled it.
 */
import { z } from 'zod';
import { Instant } from '../../profile/schema.js';
import type { Store } from '../../store/types.js';
import { WebhooksOutAdmin } from '../../sync/index.js';
import type { SyncConnector } from '../../sync/index.js';
import { ApiProblem } from '../problem.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';
import { ConnectorIdParams } from './schemas.js';

const EndpointState = z.enum(['enabled', 'disabled_gone', 'disabled_exhausted']).meta({
  description:
    '`disabled_gone`: the receiver answered 410; `disabled_exhausted`: every attempt of a message failed over its whole retry schedule.',
});

export const WebhooksOutStatus = z.object({
  connector: z.string(),
  url: z.string().meta({ description: 'Where the messages go (from the config).' }),
  state: EndpointState,
  disabledAt: Instant.nullable(),
  reason: z.string().nullable(),
  lastSuccessAt: Instant.nullable().meta({ description: 'The last 2xx.' }),
  counts: z
    .object({ pending: z.number().int(), delivered: z.number().int(), dead: z.number().int() })
    .meta({ description: 'Messages per state (delivered ones are kept for a while, then deleted).' }),
});

export const WebhookDeadLetter = z.object({
  id: z.string().meta({ description: 'The message id (`webhook-id`).' }),
  type: z.string(),
  attempts: z.number().int(),
  lastStatus: z.number().int().nullable().meta({ description: 'The HTTP status of the last attempt; null when no answer came.' }),
  lastError: z.string().nullable(),
  createdAt: Instant.meta({ description: 'When it was enqueued.' }),
});

export const WebhookDeadLetterQuery = z.object({ limit: z.coerce.number().int().min(1).max(1_000).optional() }).strict();
export const WebhookDeadLetterList = z.object({ deadLetters: z.array(WebhookDeadLetter) });

export const RedeliverRequest = z
  .object({
    ids: z
      .array(z.string().min(1).max(256))
      .max(1_000)
      .optional()
      .meta({ description: 'The dead letters to send again; all of them when absent.' }),
  })
  .strict();
export const RedeliverResult = z.object({
  redelivered: z.number().int().meta({ description: 'How many dead letters are pending again, with a fresh retry schedule.' }),
});

export const EnableResult = z.object({
  connector: z.string(),
  previousState: EndpointState,
  state: EndpointState,
});

export function webhooksOutOperations(store: Store, connectors: readonly SyncConnector[]): Operation<unknown, unknown, unknown, unknown>[] {
  const admin = new WebhooksOutAdmin(store, connectors);
  const noEndpoint = new ApiProblem(404, 'not_found', 'Not found', 'no connector with outbound webhooks has this id');

  const status = defineOperation({
    id: 'getWebhooksOut',
    method: 'GET',
    path: '/connectors/{id}/webhooks-out',
    summary: 'Outbound webhooks: endpoint state',
    description:
      'The connector’s Standard Webhooks endpoint: enabled or disabled (and why), its last success, and its messages pending, delivered and dead-lettered.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    response: WebhooksOutStatus,
    errors: [404],
    async handle({ params }) {
      return admin.has(params.id) ? admin.report(params.id) : noEndpoint;
    },
  });

  const deadLetters = defineOperation({
    id: 'listWebhooksOutDeadLetters',
    method: 'GET',
    path: '/connectors/{id}/webhooks-out/dead-letters',
    summary: 'Outbound webhooks: dead letters',
    description: 'Messages whose every attempt failed over the whole retry schedule, oldest first, with the last answer.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    query: WebhookDeadLetterQuery,
    response: WebhookDeadLetterList,
    errors: [404],
    async handle({ params, query }) {
      if (!admin.has(params.id)) return noEndpoint;
      const dead = await admin.deadLetters(params.id, query.limit);
      return {
        deadLetters: dead.map((d) => ({
          id: d.messageId,
          type: d.type,
          attempts: d.attempts,
          lastStatus: d.lastStatus,
          lastError: d.lastError,
          createdAt: d.createdAt,
        })),
      };
    },
  });

  const redeliver = defineOperation({
    id: 'redeliverWebhooksOut',
    method: 'POST',
    path: '/connectors/{id}/webhooks-out/redeliver',
    summary: 'Outbound webhooks: redeliver dead letters',
    description:
      'Puts dead letters (all, or those named) back to pending with a fresh retry schedule. A disabled endpoint sends them once it is enabled.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    body: RedeliverRequest.default({}),
    status: 202,
    response: RedeliverResult,
    errors: [404],
    async handle({ params, body, principal }) {
      if (!admin.has(params.id)) return noEndpoint;
      return { redelivered: await admin.redeliver(params.id, `admin:${principal.keyId}`, body.ids) };
    },
  });

  const enable = defineOperation({
    id: 'enableWebhooksOut',
    method: 'POST',
    path: '/connectors/{id}/webhooks-out/enable',
    summary: 'Outbound webhooks: enable the endpoint',
    description:
      'Enables an endpoint a 410 or a failing receiver disabled; the messages that waited meanwhile are sent at once. Harmless on an enabled endpoint.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    response: EnableResult,
    errors: [404],
    async handle({ params, principal }) {
      if (!admin.has(params.id)) return noEndpoint;
      const previousState = await admin.enable(params.id, `admin:${principal.keyId}`);
      return { connector: params.id, previousState, state: 'enabled' as const };
    },
  });

  return [status, deadLetters, redeliver, enable] as Operation<unknown, unknown, unknown, unknown>[];
}
