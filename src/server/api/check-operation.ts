/**
 * `POST /api/v1/connectors/{id}/check` (scope `admin`): the connector's `concord check` lines as
 * JSON. A fresh instance of the connector makes the read-only calls (credentials, scopes or
 * permissions, the webhook where the system lets us ask) and is closed again; nothing is written.
 * The answer is 200 whatever the outcome: `ok` is false when any line is a ✘. The calls spend the
 * system's quota like any other: one check per connector per `CHECK_EVERY_MS` (across the hub's
 * processes, a Redis key), none while the connector is parked; 429 with Retry-After otherwise.
 */
import type { RedisClient } from '../../queue/redis-health.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { ConnectionCheck } from '../../connector/define.js';
import { webhookUrlOf } from '../../connector/webhook-url.js';
import type { SyncConnector } from '../../sync/index.js';
import { ApiProblem } from '../problem.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';
import { ConnectorIdParams } from './schemas.js';

/** How long one connector's checks may take. */
const CHECK_TIMEOUT_MS = 30_000;

/** At most one check of a connector this often (its calls spend the system's quota). */
export const CHECK_EVERY_MS = 10_000;

/** What the check route needs to keep within a connector's call budget. */
export interface CheckBudget {
  redis: RedisClient;
  /** The engine's Redis key prefix. */
  prefix: string;
  /** How long the connector stays parked (a 429 Retry-After or a spent allowance); 0 when not parked. */
  blockedForMs(connector: string): Promise<number>;
}

function tooMany(detail: string, waitMs: number): ApiProblem {
  return new ApiProblem(429, 'rate_limited', 'Too many requests', detail, undefined, {
    'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
  });
}

export const ConnectionCheckLine = z.object({
  ok: z.boolean().meta({ description: 'False for a ✘: something to fix.' }),
  neutral: z.boolean().optional().meta({ description: 'True when nothing could be checked from here (printed –); never a failure.' }),
  detail: z.string().meta({ description: 'What was checked and what came of it. Holds no secret.' }),
  path: z
    .array(z.union([z.string(), z.number()]))
    .optional()
    .meta({ description: 'The config key to fix, under `connectors.<id>` (e.g. `["accessToken"]`).' }),
  fix: z.string().optional().meta({ description: 'What to do.' }),
});

export const ConnectorCheckResult = z.object({
  connector: z.string(),
  ok: z.boolean().meta({ description: 'True when no line is a ✘.' }),
  checks: z.array(ConnectionCheckLine),
});

export function checkOperations(
  connectors: readonly SyncConnector[],
  hub: { publicUrl: string },
  logger: Logger,
  budget: CheckBudget,
): Operation<unknown, unknown, unknown, unknown>[] {
  const check = defineOperation({
    id: 'checkConnector',
    method: 'POST',
    path: '/connectors/{id}/check',
    summary: 'Check a connector’s connection',
    description:
      'What `concord check <id>` prints, as JSON: with read-only calls, whether the system is reachable, accepts the credentials, grants the scopes or permissions the connector needs (e.g. HubSpot token scopes, Salesforce field-level security), and has the webhook registered at the hub where it lets us ask. One line per check; a failed one names the config key and the fix. Answered 200 whatever the outcome.',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    response: ConnectorCheckResult,
    errors: [404, 429],
    async handle({ params }) {
      const connector = connectors.find((c) => c.id === params.id);
      if (!connector) return new ApiProblem(404, 'not_found', 'Not found', 'connector not found');
      const parked = await budget.blockedForMs(connector.id);
      if (parked > 0) return tooMany('the connector is parked (its rate limit): no check until the park ends', parked);
      const key = `${budget.prefix}:check:last:${connector.id}`;
      if ((await budget.redis.set(key, '1', 'PX', CHECK_EVERY_MS, 'NX')) !== 'OK') {
        const left = await budget.redis.pttl(key);
        return tooMany(`one check of a connector per ${CHECK_EVERY_MS / 1000} s`, left > 0 ? left : CHECK_EVERY_MS);
      }
      const instance = await connector.create({ logger: logger.child({ connector: connector.id, check: true }) });
      let checks: ConnectionCheck[];
      try {
        checks =
          instance.check === undefined
            ? [{ ok: true, neutral: true, detail: `the ${connector.type} connector has no connection check` }]
            : await instance.check(AbortSignal.timeout(CHECK_TIMEOUT_MS), { webhookUrl: webhookUrlOf(hub.publicUrl, connector.id) });
      } finally {
        await instance.close?.();
      }
      return {
        connector: connector.id,
        ok: checks.every((c) => c.ok),
        checks: checks.map((c) => ({ ...c, ...(c.path === undefined ? {} : { path: [...c.path] }) })),
      };
    },
  });
  return [check] as Operation<unknown, unknown, unknown, unknown>[];
}
