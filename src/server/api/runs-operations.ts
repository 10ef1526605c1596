/**
 * The admin API's sync runs (`GET /api/v1/connectors/{id}/runs`, scope `admin` like the other
 * connector reads): a connector's pulls, push batches and backfills, newest first, a page at a
 * time, with their counts and row errors.
 */
import { z } from 'zod';
import { Instant } from '../../profile/schema.js';
import { MAX_RUN_ERRORS, RUN_KINDS, RUN_STATUSES, RUN_TRIGGERS } from '../../store/contracts/runs.js';
import { StoreError } from '../../store/errors.js';
import type { RunPage, RunRepository } from '../../store/types.js';
import type { SyncConnector } from '../../sync/index.js';
import { ApiProblem } from '../problem.js';
import { defineOperation } from './operation.js';
import type { Operation } from './operation.js';
import { ConnectorIdParams } from './schemas.js';

const count = z.number().int().nonnegative();

export const SyncRunView = z.object({
  id: z.string(),
  connector: z.string(),
  kind: z.enum(RUN_KINDS).meta({
    description:
      '`pull`: an incremental read; `full-pull`: a re-read from the start; `push`: one outbound batch; `backfill`: existing profiles sent to a system; `erase`: an erasure pass.',
  }),
  trigger: z
    .enum(RUN_TRIGGERS)
    .meta({ description: 'What started it: the schedule (and the outbound queue), a webhook, the CLI, or the admin API.' }),
  status: z.enum(RUN_STATUSES).meta({
    description:
      '`running` (a run whose process died is marked `failed` once its lease passes); `partial`: some rows failed; `failed`: the run itself failed (see `failure`).',
  }),
  startedAt: Instant,
  endedAt: Instant.nullable(),
  durationMs: z.number().int().nonnegative().nullable().meta({ description: 'Null while running.' }),
  counts: z.object({ read: count, changed: count, written: count, skipped: count, failed: count }).meta({
    description:
      'Records read from the system (pull) or profiles taken (push); those carrying a change; written (applied in the hub, accepted by the system); left alone (echoes, nothing new, gated, suppressed); failed (each with a row error).',
  }),
  errors: z
    .array(
      z.object({
        ref: z.string().nullable().meta({ description: "The system's record id, when known." }),
        profileId: z.string().nullable(),
        code: z.string().meta({ description: 'A stable code (the connector’s or the system’s, e.g. `invalid`, `no_identity`).' }),
        message: z.string().meta({ description: 'Without e-mail addresses or phone numbers.' }),
      }),
    )
    .meta({ description: `The first ${MAX_RUN_ERRORS} row errors.` }),
  errorCount: count.meta({ description: 'How many rows failed in all.' }),
  failure: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'Why a `failed` run failed.' }),
  requestId: z.string().meta({ description: 'The `reqId` of its log lines (the HTTP request’s when one started it).' }),
});

export const RunListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().min(1).max(500).optional().meta({ description: 'The `next` of the previous page.' }),
    kind: z.enum(RUN_KINDS).optional(),
    status: z.enum(RUN_STATUSES).optional(),
  })
  .strict();

export const RunList = z.object({
  runs: z.array(SyncRunView),
  next: z.string().nullable().meta({ description: 'The cursor of the next (older) page; null on the last one.' }),
});
export type RunList = z.infer<typeof RunList>;

/** A page of runs as the API and the CLI show them. */
export function runList(page: RunPage): RunList {
  return {
    runs: page.runs.map(({ leasedUntil: _lease, ...run }) => ({
      ...run,
      durationMs: run.endedAt === null ? null : Math.max(0, Date.parse(run.endedAt) - Date.parse(run.startedAt)),
    })),
    next: page.next,
  };
}

export function runsOperations(
  store: RunRepository,
  connectors: readonly SyncConnector[],
): Operation<unknown, unknown, unknown, unknown>[] {
  const list = defineOperation({
    id: 'listConnectorRuns',
    method: 'GET',
    path: '/connectors/{id}/runs',
    summary: 'Sync runs of a connector',
    description:
      'The connector’s pulls, push batches and backfills, newest first: when each started and ended, its status, its counts (read, changed, written, skipped, failed) and its row errors. Finished runs are kept for `hub.sync.runRetention` (30 days by default).',
    tag: 'Operations',
    scope: 'admin',
    params: ConnectorIdParams,
    query: RunListQuery,
    response: RunList,
    errors: [404],
    async handle({ params, query }) {
      if (!connectors.some((c) => c.id === params.id)) return new ApiProblem(404, 'not_found', 'Not found', 'no connector has this id');
      try {
        const page = await store.listRuns({
          connector: params.id,
          limit: query.limit,
          ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
          ...(query.kind === undefined ? {} : { kind: query.kind }),
          ...(query.status === undefined ? {} : { status: query.status }),
        });
        return runList(page);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'invalid_cursor')
          return new ApiProblem(400, 'invalid_cursor', 'Invalid cursor', err.message);
        throw err;
      }
    },
  });
  return [list] as Operation<unknown, unknown, unknown, unknown>[];
}
