/**
 * GET /admin: the operations page, behind an API key with the `admin` scope (as
 * `GET /api/v1/connectors`; a browser is asked for it by a Basic challenge, the key as the
 * password). What it shows is read when it is asked for: each connector's report from the
 * engine, its dead letters, the changes per minute of the last hour (Redis minute counts, see
 * `queue/change-counts.ts`) and, where the hub keeps them, its recent runs.
 */
import type { FastifyInstance } from 'fastify';
import type { LocalizedText } from '../../config/localized.js';
import type { SyncRun } from '../../store/types.js';
import type { SyncConnector } from '../../sync/index.js';
import type { ApiKeyRecord } from '../api-keys.js';
import type { ServerEngine } from '../deps.js';
import { authenticatePage } from '../page-auth.js';
import { sendHtml } from '../send-html.js';
import { ADMIN_PAGE_CSP, renderAdminPage } from './view.js';
import type { AdminPageData, RunView } from './view.js';

export const ADMIN_PAGE_PATH = '/admin';

/** Minutes the chart shows. */
const CHART_MINUTES = 60;
/** Dead letters and runs listed per connector. */
const LISTED = 5;

export interface AdminPageOptions {
  connectors: readonly SyncConnector[];
  connectorNames?: Readonly<Record<string, LocalizedText | undefined>> | undefined;
  engine: Pick<ServerEngine, 'connectorStatus' | 'changesPerMinute' | 'deadLetters'>;
  apiKeys: readonly ApiKeyRecord[];
  /** Where the queue board is served; null when it is not. */
  queueBoard: string | null;
  apiDocs: string;
  /** The connector's newest runs, newest first; absent when the hub keeps no run history. */
  recentRuns?: (connector: string, limit: number) => Promise<RunView[]>;
  now(): number;
}

/** A stored run as the page lists it: its failure, else how many rows failed and the first one's code. */
export function runView(run: SyncRun): RunView {
  const first = run.errors[0];
  const error = run.failure
    ? `${run.failure.code}: ${run.failure.message}`
    : run.errorCount > 0
      ? `${run.errorCount} row error${run.errorCount === 1 ? '' : 's'}${first ? `, first ${first.code}: ${first.message}` : ''}`
      : null;
  return { kind: run.kind, status: run.status, startedAt: run.startedAt, endedAt: run.endedAt, counts: { ...run.counts }, error };
}

/** A display name in one string: the name itself, or the first of its translations. */
function nameOf(text: LocalizedText | undefined): string | null {
  if (text === undefined) return null;
  return typeof text === 'string' ? text : (Object.values(text)[0] ?? null);
}

export async function pageData(options: AdminPageOptions): Promise<AdminPageData> {
  const now = options.now();
  const minutes = await options.engine.changesPerMinute(CHART_MINUTES, now);
  const connectors = await Promise.all(
    options.connectors.map(async (c) => {
      const [report, dead, runs] = await Promise.all([
        options.engine.connectorStatus(c.id, now),
        c.capabilities.push ? options.engine.deadLetters.list(c.id) : Promise.resolve([]),
        options.recentRuns ? options.recentRuns(c.id, LISTED) : Promise.resolve(null),
      ]);
      return {
        id: c.id,
        type: c.type,
        displayName: nameOf(options.connectorNames?.[c.id]),
        capabilities: c.capabilities,
        schedule: c.schedule ?? null,
        report,
        deadLetters: dead
          .slice(-LISTED)
          .reverse()
          .map((d) => ({ profileId: d.profileId, kind: d.kind, code: d.code, reason: d.reason, at: d.at })),
        runs,
        perMinute: minutes.map((m) => ({ at: m.at, in: m.in[c.id] ?? 0, out: m.out[c.id] ?? 0 })),
      };
    }),
  );
  return { now, connectors, links: { queueBoard: options.queueBoard, apiDocs: options.apiDocs } };
}

export function registerAdminPage(app: FastifyInstance, options: AdminPageOptions): void {
  app.get(ADMIN_PAGE_PATH, async (request, reply) => {
    const principal = await authenticatePage(options.apiKeys, request, reply, 'admin', 'Concord operations');
    if (principal === null) return reply;
    const page = renderAdminPage(await pageData(options));
    reply.header('content-security-policy', ADMIN_PAGE_CSP);
    return sendHtml(reply, 200, page);
  });
}
