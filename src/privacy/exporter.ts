/**
 * Access and portability requests: the export job gathers the profile with each field's source
 * and time, the consent ledger as receipts, the systems holding data with their ids, the sync
 * history from the store's push log (what was sent where and when), the audit trail, and
 * (when asked) the records each system holds now, read through the engine's limiter: each
 * system is searched for the person first (`search.ts`: `find`, else `export` by ids and
 * addresses), so records the hub never synced are read too, and a system holding nothing is
 * recorded as searched, not found. A rate limit delays the job without spending an attempt. The
 * document is checked against its schema and kept in Redis for `exportTtlMs`; the request keeps
 * only its size and digest as proof.
 */
import { createHash } from 'node:crypto';
import { DelayedError } from 'bullmq';
import type { Job } from 'bullmq';
import type { ExportedRecord, FindQuery } from '../connector/define.js';
import { RateLimitedError } from '../connector/errors.js';
import { jobId } from '../queue/keys.js';
import type { CallLimiter } from '../queue/call-limiter.js';
import type { Engine, SyncConnector, SyncInstance } from '../sync/index.js';
import { audit, callSystem, encodeDetail, readDetail, reasonOf, retriedJobOptions, withLock } from './context.js';
import type { PrivacyContext } from './context.js';
import { buildExport, ExportDocument } from './export/document.js';
import type { LiveExport } from './export/document.js';
import type { SystemEvidence } from './schema.js';
import { freshEvidence, hashedRecords, noteCall, queryFor, searchScope, searchSystem, withFound } from './search.js';
import { recipientSources, retentionOf } from './export/recipients.js';
import { planErasure } from './targets.js';
import { settleRequest } from './settle.js';

export interface ExportJobData {
  dsrId: string;
}

export interface ExporterDeps {
  engine: Pick<Engine, 'instance' | 'metrics'>;
  limiter: CallLimiter;
}

/** Adds the export job of a request (one per request; a retried request adds it again). */
export async function scheduleExport(ctx: PrivacyContext, dsrId: string, round = 0): Promise<void> {
  await ctx.queues.requests.add(
    'export',
    { dsrId } satisfies ExportJobData,
    retriedJobOptions(ctx, jobId('export', dsrId, round), ctx.options.tuning.exportAttempts),
  );
}

export class Exporter {
  constructor(
    private readonly ctx: PrivacyContext,
    private readonly deps: ExporterDeps,
  ) {}

  async process(job: Job<ExportJobData>, signal?: AbortSignal, token?: string): Promise<{ bytes: number }> {
    const { ctx } = this;
    const started = performance.now();
    const request = await ctx.store.getDsr(job.data.dsrId);
    if (!request || request.kind !== 'export' || request.status === 'completed') return { bytes: 0 };
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const detail = readDetail(request);
    const profile = request.profileId ? await ctx.store.getProfile(request.profileId) : null;
    const shadows = profile ? await ctx.store.shadowsByProfile(profile.id) : [];
    const live: LiveExport[] = [];
    const evidence = new Map<string, SystemEvidence>();
    if (detail.includeLive) {
      const plan = planErasure({
        profile,
        shadows,
        named: [],
        connectors: [...ctx.connectors.values()].map((c) => ({ id: c.id, capabilities: { erase: c.capabilities.export } })),
        alwaysErase: [],
      });
      for (const system of request.systems) {
        const connector = ctx.connectors.get(system.connector);
        const instance = connector?.capabilities.export ? await this.deps.engine.instance(connector.id) : undefined;
        const exporter = instance?.export;
        if (!connector || !instance || !exporter) {
          live.push({
            connector: system.connector,
            status: 'unsupported',
            error: connector ? 'the connector cannot export' : null,
            records: [],
          });
          continue;
        }
        const abort = signal ?? new AbortController().signal;
        try {
          const known = plan.refs[system.connector] ?? [];
          // Find before reading: the person's records in the system, whether the hub knows them or not.
          const found = detail.search ? await this.search(connector, instance, queryFor(detail.search, connector.id), abort) : null;
          if (found) evidence.set(connector.id, found.evidence);
          // Nothing of theirs can be searched here and the hub knows no record: no "searched, not found".
          if (found?.byHand && known.length === 0) {
            live.push({
              connector: system.connector,
              status: 'failed',
              error: found.byHand,
              records: [],
              ...(found.evidence.unsearchable ? { unsearchable: found.evidence.unsearchable } : {}),
            });
            continue;
          }
          // The records found and those the hub knows, as an erasure takes them (`withFound`).
          const refs = found ? withFound(known, found.ids).refs : known;
          // A search by `export` read the records it found already: only the others are read.
          const readAlready = new Set((found?.records ?? []).map((r) => r.externalId));
          const toRead = found?.records ? refs.filter((r) => r.externalId !== undefined && !readAlready.has(r.externalId)) : refs;
          let records = found?.records;
          if (toRead.length > 0) {
            const read = await callSystem(ctx, this.deps, connector, 'export', () => exporter(toRead, abort), { signal: abort });
            records = [...(records ?? []), ...read];
            if (found) noteCall(found.evidence, 'export', ctx.now().toISOString());
          }
          if (records === undefined && !found) {
            live.push({ connector: system.connector, status: 'unsupported', error: null, records: [] });
            continue;
          }
          live.push({
            connector: system.connector,
            status: 'read',
            error: null,
            // The whole record: every non-empty field, the system's labels and its related records.
            records: (records ?? []).map((r) => ({
              externalId: r.externalId,
              at: r.at,
              fields: r.fields,
              ...(r.labels && Object.keys(r.labels).length > 0 ? { labels: r.labels } : {}),
              ...(r.related && Object.keys(r.related).length > 0 ? { related: r.related } : {}),
            })),
            ...(found?.evidence.searched ? { search: found.evidence.searched } : {}),
            ...(found?.evidence.unsearchable ? { unsearchable: found.evidence.unsearchable } : {}),
          });
        } catch (err) {
          // A rate limit is no failure: the job waits for the system without spending an attempt.
          if (err instanceof RateLimitedError && token !== undefined) {
            ctx.logger.info({ dsrId: request.id, connector: connector.id, waitMs: err.retryAfterMs }, 'rate limited: export waits');
            await job.moveToDelayed(Date.now() + Math.max(1, err.retryAfterMs), token);
            throw new DelayedError();
          }
          // Tried again with the job; on its last attempt the export goes out without this system's records.
          if (!lastAttempt) {
            await ctx.store.updateDsrSystem(request.id, system.connector, {
              status: 'in_progress',
              attempts: job.attemptsMade + 1,
              error: reasonOf(err),
            });
            throw err;
          }
          live.push({ connector: system.connector, status: 'failed', error: reasonOf(err), records: [] });
        }
      }
    }
    const expiresAt = new Date(ctx.now().getTime() + ctx.options.exportTtlMs).toISOString();
    const document = ExportDocument.parse(
      buildExport({
        requestId: request.id,
        generatedAt: ctx.now().toISOString(),
        controller: ctx.options.controller,
        profile,
        ledger: profile ? await ctx.store.consentHistory(profile.id) : [],
        shadows,
        pushes: profile ? await ctx.store.pushHistory(profile.id) : [],
        valueHistory: profile ? await ctx.store.profileHistory(profile.id) : [],
        audit: profile ? await ctx.store.listAudit({ profileId: profile.id, limit: 100_000 }) : [],
        connectorTypes: new Map([...ctx.connectors.values()].map((c) => [c.id, c.type])),
        policy: ctx.policy,
        purposeTitles: ctx.options.purposeTitles,
        live: detail.includeLive ? live : null,
        recipientSources: recipientSources(ctx.connectors.values(), ctx.policy),
        retention: retentionOf(ctx.options, expiresAt),
      }),
    );
    const text = JSON.stringify(document);
    await ctx.redis.set(ctx.keys.export(request.id), text, 'PX', ctx.options.exportTtlMs);
    await withLock(ctx, request.id, async () => {
      const current = await ctx.store.getDsr(request.id);
      if (!current) return;
      const d = readDetail(current);
      const at = ctx.now().toISOString();
      for (const system of current.systems) {
        const l = live.find((x) => x.connector === system.connector);
        const ok = !l || l.status !== 'failed';
        const proof = evidence.get(system.connector);
        // Searched and not found: recorded as such, not left out.
        const outcome = !ok ? 'failed' : proof?.searched && l?.records.length === 0 ? 'not_found' : 'exported';
        d.outcomes[system.connector] = {
          outcome,
          ...(ok ? { records: l?.records.length ?? 0 } : {}),
          ...(proof ? { evidence: proof } : {}),
          at,
        };
        await ctx.store.updateDsrSystem(
          current.id,
          system.connector,
          ok ? { status: 'completed', error: null } : { status: 'failed', error: l.error },
        );
        ctx.metrics.systemOutcomes.inc({ kind: 'export', connector: system.connector, outcome });
      }
      delete d.search;
      delete d.evidence;
      d.export = { expiresAt, sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.byteLength(text) };
      await ctx.store.updateDsr(current.id, { detail: encodeDetail(d) });
      await audit(ctx, 'dsr.export.ready', current, {
        bytes: d.export.bytes,
        sha256: d.export.sha256,
        expiresAt,
        live: live.map((l) => `${l.connector}:${l.status}`),
      });
      await settleRequest(ctx, current.id);
    });
    const systems = (status: LiveExport['status']): number => live.filter((l) => l.status === status).length;
    ctx.logger.info(
      {
        dsrId: request.id,
        jobId: job.id,
        systems: request.systems.length,
        read: systems('read'),
        failed: systems('failed'),
        records: live.reduce((n, l) => n + l.records.length, 0),
        bytes: Buffer.byteLength(text),
        ms: Math.round(performance.now() - started),
      },
      'export prepared',
    );
    return { bytes: Buffer.byteLength(text) };
  }

  /**
   * Searches one system for the person (`find`, else `export` by ids and addresses), with the
   * evidence of it: the record ids found and, when the search read them already (`export`), the
   * records.
   */
  private async search(
    connector: SyncConnector,
    instance: SyncInstance,
    query: FindQuery,
    signal: AbortSignal,
  ): Promise<{ ids: string[]; records?: ExportedRecord[]; evidence: SystemEvidence; byHand?: string }> {
    const { ctx } = this;
    const scope = searchScope(ctx, connector, instance, query);
    const evidence = freshEvidence();
    if (scope.unsearchable.length > 0) evidence.unsearchable = scope.unsearchable;
    if (scope.byHand !== null) return { ids: [], evidence, byHand: scope.byHand };
    const result = await searchSystem(ctx, this.deps, connector, instance, [scope.query], signal);
    const ids = result.found[0] ?? [];
    const at = ctx.now().toISOString();
    noteCall(evidence, result.method, at);
    evidence.searched = {
      at,
      via: result.method,
      identities: scope.identities,
      found: ids.length,
      records: hashedRecords(ctx, connector.id, ids),
    };
    const records = result.records?.[0];
    return { ids, ...(records ? { records } : {}), evidence };
  }
}

/** The prepared export of a request, while it is kept. */
export async function readExport(ctx: PrivacyContext, dsrId: string): Promise<ExportDocument | null> {
  const text = await ctx.redis.get(ctx.keys.export(dsrId));
  if (text === null) return null;
  return ExportDocument.parse(JSON.parse(text));
}
