/**
 * `POST /api/v1/plans` and `GET /api/v1/plans/{planId}` (scope `admin`): `concord plan` through
 * the admin API. A plan reads whole systems and may take minutes, so it runs in the background
 * (`PlanRunner`: in this API process, one at a time per hub) and is polled for.
 */
import { z } from 'zod';
import { ApiProblem } from '../problem.js';
import { PlanView } from '../plans.js';
import type { PlanRunner } from '../plans.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';

export const PlanRequest = z
  .object({
    connector: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .meta({ description: 'Read only this connector instance (its records’ effect on every system is still planned).' }),
  })
  .meta({ description: 'What to plan (every connector that pulls unless one is named).' });

export const PlanStarted = z.object({
  planId: z.string().meta({ description: 'The plan; its state at `GET /plans/{planId}`.' }),
});

export const PlanParams = z.object({
  planId: z.string().min(1).max(100).meta({ description: 'A plan id, as `POST /plans` answered it.' }),
});

export function planOperations(plans: PlanRunner, connectors: readonly { id: string }[]): Operation<unknown, unknown, unknown, unknown>[] {
  const startPlan = defineOperation({
    id: 'startPlan',
    method: 'POST',
    path: '/plans',
    summary: 'Plan the next sync (dry run)',
    description:
      'What `concord plan [connector] --json` prints, made in the background: reads each system that pulls (or the one named) from its saved cursor with read-only calls within its rate limits, and works out in memory what the next sync (the first one before any) would create, update or leave alone in every system, which fields change how often, with a few redacted examples. Nothing is written to the store, the cursors or any system. One plan at a time per hub (409 `plan_running` names the running one). Answers at once with the plan id; its progress and report at `GET /plans/{planId}`, kept an hour after it ends.',
    tag: 'Operations',
    scope: 'admin',
    body: PlanRequest.default({}),
    status: 202,
    response: PlanStarted,
    errors: [404, 409],
    async handle({ body }) {
      if (body.connector !== undefined && !connectors.some((c) => c.id === body.connector))
        return new ApiProblem(404, 'not_found', 'Not found', 'connector not found');
      const started = await plans.start(body.connector);
      if ('running' in started)
        return new ApiProblem(409, 'plan_running', 'A plan is running', `plan ${started.running} is running; one plan at a time per hub`);
      return started;
    },
  });

  const getPlan = defineOperation({
    id: 'getPlan',
    method: 'GET',
    path: '/plans/{planId}',
    summary: 'A plan’s progress and report',
    description:
      'Where a plan started by `POST /plans` stands: `running` with the pages and records read so far per system, `done` with the report (the `PlanReport` schema of `concord plan --json`), or `failed` with a stable error code (`plan_failed`: a read failed; `plan_interrupted`: the hub process shut down; `plan_abandoned`: the process making it went away). Kept an hour after it ends.',
    tag: 'Operations',
    scope: 'admin',
    params: PlanParams,
    response: PlanView,
    errors: [404],
    async handle({ params }) {
      return (await plans.get(params.planId)) ?? new ApiProblem(404, 'not_found', 'Not found', 'plan not found');
    },
  });

  return [startPlan, getPlan] as Operation<unknown, unknown, unknown, unknown>[];
}
