/**
 * Bulk API 2.0: ingest jobs (CSV upload, upsert/insert/update/delete, per-record results) and
 * query jobs whose results are paged with `locator` / `maxRecords` and the `Sforce-Locator`
 * header, `null` on the last page.
 * https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0.htm
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseCsv, toCsv } from '../csv.js';
import { badRequest, notFound, SalesforceHttpError } from './errors.js';
import { runBulkSoql } from './rest-routes.js';
import { findField, type ObjectDef } from './schema.js';
import { isoOf, SaveError, type Actor, type OrgState, type StoredRecord } from './state.js';

type IngestOperation = 'insert' | 'update' | 'upsert' | 'delete';
type JobState = 'Open' | 'UploadComplete' | 'InProgress' | 'JobComplete' | 'Failed' | 'Aborted';

interface IngestJob {
  id: string;
  object: ObjectDef;
  operation: IngestOperation;
  externalIdFieldName?: string;
  state: JobState;
  createdById: string;
  createdDate: string;
  systemModstamp: string;
  csv: string[];
  version: string;
  actor: Actor;
  success: { id: string; created: boolean; row: Record<string, string> }[];
  failed: { id: string; error: string; row: Record<string, string> }[];
  columns: string[];
  readyAt: number;
}

interface QueryJob {
  id: string;
  query: string;
  operation: 'query' | 'queryAll';
  object: string;
  state: JobState;
  createdById: string;
  createdDate: string;
  systemModstamp: string;
  version: string;
  readyAt: number;
  rows?: StoredRecord[];
  fields?: string[];
  objectDef?: ObjectDef;
  errorMessage?: string;
}

export interface BulkDeps {
  state: OrgState;
  now: () => number;
  jobDelayMs: number;
  resultPageSize: number;
  actorOf(req: FastifyRequest): Actor;
}

/** `#N/A` clears a field in Bulk API CSV; an empty field leaves it as it is. */
const NULL_MARKER = '#N/A';

function csvValue(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return String(value);
}

export function registerBulkRoutes(app: FastifyInstance, deps: BulkDeps): void {
  const { state } = deps;
  const P = '/services/data/:version/jobs';
  const ingest = new Map<string, IngestJob>();
  const queries = new Map<string, QueryJob>();
  let next = 1;
  const jobId = (): string => `7505e0000${String(next++).padStart(6, '0')}AAA`;
  const version = (req: FastifyRequest): string => (req.params as { version: string }).version;

  const ingestInfo = (job: IngestJob): Record<string, unknown> => ({
    id: job.id,
    operation: job.operation,
    object: job.object.name,
    createdById: job.createdById,
    createdDate: job.createdDate,
    systemModstamp: job.systemModstamp,
    state: job.state,
    ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.version.replace(/^v/, '')),
    contentUrl: `services/data/${job.version}/jobs/ingest/${job.id}/batches`,
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(job.state === 'JobComplete'
      ? {
          numberRecordsProcessed: job.success.length + job.failed.length,
          numberRecordsFailed: job.failed.length,
          retries: 0,
          totalProcessingTime: 0,
        }
      : {}),
  });

  const ingestJob = (req: FastifyRequest): IngestJob => {
    const job = ingest.get((req.params as { id: string }).id);
    if (!job) throw notFound('The requested resource does not exist');
    return job;
  };

  const runIngest = (job: IngestJob): void => {
    job.state = 'InProgress';
    for (const text of job.csv) {
      const { columns, records } = parseCsv(text);
      if (job.columns.length === 0) job.columns = columns;
      for (const row of records) {
        const input: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(row)) {
          if (value === '') continue;
          input[name] = value === NULL_MARKER ? null : value;
        }
        try {
          let id: string;
          let created = false;
          switch (job.operation) {
            case 'insert':
              id = String(state.create(job.object.name, input, job.actor)['Id']);
              created = true;
              break;
            case 'update': {
              const { Id: rid, ...fields } = input;
              id = String(state.update(job.object.name, String(rid ?? ''), fields, job.actor)['Id']);
              break;
            }
            case 'upsert': {
              const field = job.externalIdFieldName ?? 'Id';
              const r = state.upsert(job.object.name, field, String(input[field] ?? ''), input, job.actor);
              id = String(r.record['Id']);
              created = r.created;
              break;
            }
            case 'delete':
              id = String(input['Id'] ?? '');
              state.delete(job.object.name, id, job.actor);
              break;
          }
          job.success.push({ id, created, row });
        } catch (err) {
          const message =
            err instanceof SaveError
              ? err.errors.map((e) => `${e.statusCode}:${e.message}:${e.fields.join(';')} --`).join(' ')
              : String(err);
          job.failed.push({ id: String(input['Id'] ?? ''), error: message, row });
        }
      }
    }
    job.state = 'JobComplete';
    job.systemModstamp = isoOf(deps.now());
  };

  app.post(`${P}/ingest`, async (req) => {
    const body = (req.body ?? {}) as { object?: string; operation?: string; externalIdFieldName?: string; contentType?: string };
    const object = state.object(body.object ?? '');
    if (!object) throw badRequest('INVALIDENTITY', `Entity '${body.object ?? ''}' is not supported by the Bulk API.`);
    if (!['insert', 'update', 'upsert', 'delete'].includes(body.operation ?? ''))
      throw badRequest('INVALIDJOB', `InvalidJob : Invalid operation: ${body.operation ?? ''}`);
    if (
      body.operation === 'upsert' &&
      !findField(object, body.externalIdFieldName ?? '')?.externalId &&
      body.externalIdFieldName !== 'Id'
    ) {
      throw badRequest('INVALIDJOB', `InvalidJob : External ID was blank for ${object.name}. An External ID must be specified for upsert.`);
    }
    if (body.contentType !== undefined && body.contentType !== 'CSV')
      throw badRequest('INVALIDJOB', 'InvalidJob : contentType must be CSV');
    const t = isoOf(deps.now());
    const actor = deps.actorOf(req);
    const job: IngestJob = {
      id: jobId(),
      object,
      operation: body.operation as IngestOperation,
      ...(body.externalIdFieldName
        ? { externalIdFieldName: findField(object, body.externalIdFieldName)?.name ?? body.externalIdFieldName }
        : {}),
      state: 'Open',
      createdById: actor.userId,
      createdDate: t,
      systemModstamp: t,
      csv: [],
      version: version(req),
      actor,
      success: [],
      failed: [],
      columns: [],
      readyAt: 0,
    };
    ingest.set(job.id, job);
    return ingestInfo(job);
  });

  app.put(`${P}/ingest/:id/batches`, async (req, reply) => {
    const job = ingestJob(req);
    if (job.state !== 'Open') throw new SalesforceHttpError(409, 'INVALIDJOBSTATE', `Job is not open for data upload: ${job.state}`);
    job.csv.push(typeof req.body === 'string' ? req.body : Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    return reply.code(201).send();
  });

  app.patch(`${P}/ingest/:id`, async (req) => {
    const job = ingestJob(req);
    const wanted = ((req.body ?? {}) as { state?: string }).state;
    if (wanted === 'Aborted') job.state = 'Aborted';
    else if (wanted === 'UploadComplete') {
      if (job.state !== 'Open') throw new SalesforceHttpError(409, 'INVALIDJOBSTATE', `Job is not open: ${job.state}`);
      job.state = 'UploadComplete';
      job.readyAt = deps.now() + deps.jobDelayMs;
      if (deps.jobDelayMs === 0) runIngest(job);
    } else throw badRequest('INVALIDJOBSTATE', `Invalid state: ${wanted ?? ''}`);
    return ingestInfo(job);
  });

  app.get(`${P}/ingest/:id`, async (req) => {
    const job = ingestJob(req);
    if (job.state === 'UploadComplete' && deps.now() >= job.readyAt) runIngest(job);
    return ingestInfo(job);
  });

  app.delete(`${P}/ingest/:id`, async (req, reply) => {
    ingest.delete(ingestJob(req).id);
    return reply.code(204).send();
  });

  const results =
    (kind: 'successfulResults' | 'failedResults' | 'unprocessedrecords') =>
    async (req: FastifyRequest, reply: { header(n: string, v: string): unknown; type(t: string): unknown }): Promise<string> => {
      const job = ingestJob(req);
      reply.type('text/csv');
      if (kind === 'successfulResults')
        return toCsv(
          ['sf__Id', 'sf__Created', ...job.columns],
          job.success.map((s) => [s.id, String(s.created), ...job.columns.map((c) => s.row[c] ?? '')]),
        );
      if (kind === 'failedResults')
        return toCsv(
          ['sf__Id', 'sf__Error', ...job.columns],
          job.failed.map((f) => [f.id, f.error, ...job.columns.map((c) => f.row[c] ?? '')]),
        );
      return toCsv(job.columns, []);
    };
  app.get(`${P}/ingest/:id/successfulResults`, results('successfulResults'));
  app.get(`${P}/ingest/:id/failedResults`, results('failedResults'));
  app.get(`${P}/ingest/:id/unprocessedrecords`, results('unprocessedrecords'));

  const queryInfo = (job: QueryJob): Record<string, unknown> => ({
    id: job.id,
    operation: job.operation,
    object: job.object,
    createdById: job.createdById,
    createdDate: job.createdDate,
    systemModstamp: job.systemModstamp,
    state: job.state,
    concurrencyMode: 'Parallel',
    contentType: 'CSV',
    apiVersion: Number(job.version.replace(/^v/, '')),
    lineEnding: 'LF',
    columnDelimiter: 'COMMA',
    ...(job.state === 'JobComplete' ? { numberRecordsProcessed: job.rows?.length ?? 0, retries: 0, totalProcessingTime: 0 } : {}),
    ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
  });

  const runQueryJob = (job: QueryJob): void => {
    try {
      const { object, rows, fields } = runBulkSoql(state, job.query, deps.now());
      job.rows = rows;
      job.fields = fields;
      job.objectDef = object;
      job.state = 'JobComplete';
    } catch (err) {
      job.state = 'Failed';
      job.errorMessage = err instanceof Error ? err.message : String(err);
    }
    job.systemModstamp = isoOf(deps.now());
  };

  const queryJob = (req: FastifyRequest): QueryJob => {
    const job = queries.get((req.params as { id: string }).id);
    if (!job) throw notFound('The requested resource does not exist');
    if (job.state === 'UploadComplete' && deps.now() >= job.readyAt) runQueryJob(job);
    return job;
  };

  app.post(`${P}/query`, async (req) => {
    const body = (req.body ?? {}) as { operation?: string; query?: string };
    if (body.operation !== 'query' && body.operation !== 'queryAll')
      throw badRequest('INVALIDJOB', `InvalidJob : Invalid operation: ${body.operation ?? ''}`);
    if (!body.query) throw badRequest('INVALIDJOB', 'InvalidJob : query is required');
    // A query that does not parse is refused at creation, as Salesforce does.
    const { object } = runBulkSoql(state, body.query, deps.now());
    const t = isoOf(deps.now());
    const job: QueryJob = {
      id: jobId(),
      query: body.query,
      operation: body.operation,
      object: object.name,
      state: 'UploadComplete',
      createdById: deps.actorOf(req).userId,
      createdDate: t,
      systemModstamp: t,
      version: version(req),
      readyAt: deps.now() + deps.jobDelayMs,
    };
    queries.set(job.id, job);
    if (deps.jobDelayMs === 0) runQueryJob(job);
    return queryInfo(job);
  });

  app.get(`${P}/query/:id`, async (req) => queryInfo(queryJob(req)));

  app.patch(`${P}/query/:id`, async (req) => {
    const job = queryJob(req);
    if (((req.body ?? {}) as { state?: string }).state === 'Aborted') job.state = 'Aborted';
    return queryInfo(job);
  });

  app.delete(`${P}/query/:id`, async (req, reply) => {
    queries.delete(queryJob(req).id);
    return reply.code(204).send();
  });

  app.get(`${P}/query/:id/results`, async (req, reply) => {
    const job = queryJob(req);
    if (job.version !== version(req))
      throw new SalesforceHttpError(
        409,
        'API_VERSION_MISMATCH',
        'Use the same API version to get query results that you used to create the query.',
      );
    if (job.state !== 'JobComplete' || !job.rows || !job.fields || !job.objectDef) {
      throw new SalesforceHttpError(
        412,
        'JOB_NOT_COMPLETE',
        `can only download query results of successfully completed bulk job with status: JOB_COMPLETE. Current status: ${job.state}`,
      );
    }
    const q = req.query as { locator?: string; maxRecords?: string };
    const offset = q.locator ? Number(Buffer.from(q.locator, 'base64').toString('utf8')) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw badRequest('INVALIDLOCATOR', `Invalid locator: ${q.locator ?? ''}`);
    const max = q.maxRecords ? Number(q.maxRecords) : deps.resultPageSize;
    if (!Number.isInteger(max) || max <= 0) throw badRequest('INVALIDMAXRECORDS', `Invalid maxRecords: ${q.maxRecords ?? ''}`);
    const slice = job.rows.slice(offset, offset + max);
    const end = offset + slice.length;
    const fields = job.fields;
    const objectDef = job.objectDef;
    void reply.header('Sforce-NumberOfRecords', String(slice.length));
    // The locator of the next page is the base64 of its offset (Salesforce's look alike, e.g. MTAwMDA); `null` ends.
    void reply.header('Sforce-Locator', end < job.rows.length ? Buffer.from(String(end)).toString('base64').replace(/=+$/, '') : 'null');
    void reply.type('text/csv');
    return toCsv(
      fields,
      slice.map((r) =>
        fields.map((f) => {
          const def = findField(objectDef, f);
          const v = r[def?.name ?? f];
          return csvValue(v);
        }),
      ),
    );
  });
}
