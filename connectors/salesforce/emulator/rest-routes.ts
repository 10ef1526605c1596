/**
 * The REST API under `/services/data/vXX.X`: sObject describe/get/create/update/delete and
 * upsert by external id, sObject Collections, and SOQL query with `nextRecordsUrl` paging.
 * https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_list.htm
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, malformedQuery, notFound, SalesforceHttpError } from './errors.js';
import { describeObject, findField, type ObjectDef } from './schema.js';
import { comparisons, parseSoql, resolveSemiJoins, runQuery, SoqlSyntaxError, type SoqlQuery } from './soql.js';
import { SaveError, type Actor, type OrgState, type RecordError, type StoredRecord } from './state.js';

/** Records per sObject Collections call. */
export const MAX_COLLECTION = 200;

export interface RestDeps {
  state: OrgState;
  now: () => number;
  queryBatchSize: number;
  actorOf(req: FastifyRequest): Actor;
  /** The org's API usage against its daily allowance. */
  limitUsage(): { used: number; max: number };
  /** Field-level security of the integration user (`Object.Field` -> hidden | readOnly): describes leave hidden fields out, SOQL knows no such column. */
  fieldSecurity?: Readonly<Record<string, 'hidden' | 'readOnly'>>;
}

/** A Salesforce date-time as the REST API writes it (`2026-01-15T09:30:00.000+0000`). */
export function restDateTime(iso: string): string {
  return iso.replace(/Z$/, '+0000');
}

/** A stored record as REST JSON, with `attributes`, limited to `fields` when given. */
export function recordJson(object: ObjectDef, record: StoredRecord, version: string, fields?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: object.name, url: `/services/data/${version}/sobjects/${object.name}/${String(record['Id'])}` },
  };
  const names = fields ?? object.fields.map((f) => f.name);
  for (const name of names) {
    const def = findField(object, name);
    if (!def) continue;
    const value = record[def.name] ?? null;
    out[def.name] = def.type === 'datetime' && typeof value === 'string' ? restDateTime(value) : value;
  }
  return out;
}

interface SaveResult {
  id: string | null;
  success: boolean;
  errors: RecordError[];
  created?: boolean;
}

function failure(err: unknown): SaveResult {
  if (err instanceof SaveError) return { id: null, success: false, errors: err.errors };
  return {
    id: null,
    success: false,
    errors: [{ statusCode: 'UNKNOWN_EXCEPTION', message: err instanceof Error ? err.message : String(err), fields: [] }],
  };
}

function rolledBack(results: SaveResult[]): SaveResult[] {
  return results.map((r) =>
    r.success
      ? {
          id: null,
          success: false,
          errors: [
            {
              statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
              message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
              fields: [],
            },
          ],
        }
      : r,
  );
}

interface CollectionBody {
  allOrNone?: boolean;
  records?: Record<string, unknown>[];
}

function collectionBody(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } {
  const b = (body ?? {}) as CollectionBody;
  if (!Array.isArray(b.records)) throw badRequest('JSON_PARSER_ERROR', 'records: expected an array');
  if (b.records.length > MAX_COLLECTION)
    throw badRequest('EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
  return { allOrNone: b.allOrNone === true, records: b.records };
}

function typeOf(record: Record<string, unknown>): string | undefined {
  const attributes = record['attributes'] as { type?: unknown } | undefined;
  return typeof attributes?.type === 'string' ? attributes.type : undefined;
}

interface QueryCursor {
  object: ObjectDef;
  rows: StoredRecord[];
  fields: string[];
  offset: number;
  batch: number;
  version: string;
}

export function registerRestRoutes(app: FastifyInstance, deps: RestDeps): void {
  const { state } = deps;
  const P = '/services/data/:version';
  const cursors = new Map<string, QueryCursor>();
  let nextLocator = 1;

  const objectOr404 = (name: string): ObjectDef => {
    const o = state.object(name);
    if (!o) throw notFound(`The requested resource does not exist`);
    return o;
  };
  const version = (req: FastifyRequest): string => (req.params as { version: string }).version;

  app.get('/services/data', async () => [{ label: 'Emulated', url: '/services/data/v62.0', version: '62.0' }]);

  app.get(`${P}/limits`, async () => {
    const usage = deps.limitUsage();
    return { DailyApiRequests: { Max: usage.max, Remaining: Math.max(0, usage.max - usage.used) } };
  });

  app.get(`${P}/sobjects/:type/describe`, async (req) =>
    describeObject(objectOr404((req.params as { type: string }).type), deps.fieldSecurity),
  );

  app.get(`${P}/sobjects/:type/:id`, async (req) => {
    const { type, id } = req.params as { type: string; id: string };
    const object = objectOr404(type);
    const record = state.get(object.name, id);
    if (!record) throw notFound();
    state.noteRead(object.name, [record]);
    const fields = (req.query as { fields?: string }).fields?.split(',').map((f) => f.trim());
    return recordJson(object, record, version(req), fields);
  });

  app.post(`${P}/sobjects/:type`, async (req, reply) => {
    const object = objectOr404((req.params as { type: string }).type);
    try {
      const record = state.create(object.name, (req.body ?? {}) as Record<string, unknown>, deps.actorOf(req));
      return reply.code(201).send({ id: record['Id'], success: true, errors: [] });
    } catch (err) {
      if (err instanceof SaveError)
        return reply.code(400).send(err.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })));
      throw err;
    }
  });

  app.patch(`${P}/sobjects/:type/:id`, async (req, reply) => {
    const { type, id } = req.params as { type: string; id: string };
    const object = objectOr404(type);
    if (!state.get(object.name, id)) throw notFound();
    try {
      state.update(object.name, id, (req.body ?? {}) as Record<string, unknown>, deps.actorOf(req));
      return reply.code(204).send();
    } catch (err) {
      if (err instanceof SaveError)
        return reply.code(400).send(err.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })));
      throw err;
    }
  });

  // Upsert one record by external id: 201 when created, 204 when updated.
  app.patch(`${P}/sobjects/:type/:field/:value`, async (req, reply) => {
    const { type, field, value } = req.params as { type: string; field: string; value: string };
    const object = objectOr404(type);
    try {
      const { record, created } = state.upsert(object.name, field, value, (req.body ?? {}) as Record<string, unknown>, deps.actorOf(req));
      return created ? reply.code(201).send({ id: record['Id'], success: true, errors: [], created: true }) : reply.code(204).send();
    } catch (err) {
      if (err instanceof SaveError)
        return reply.code(400).send(err.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })));
      throw err;
    }
  });

  app.delete(`${P}/sobjects/:type/:id`, async (req, reply) => {
    const { type, id } = req.params as { type: string; id: string };
    const object = objectOr404(type);
    if (!state.get(object.name, id)) throw notFound('entity is deleted');
    state.delete(object.name, id, deps.actorOf(req));
    return reply.code(204).send();
  });

  // sObject Collections: create.
  app.post(`${P}/composite/sobjects`, async (req) => {
    const { allOrNone, records } = collectionBody(req.body);
    const actor = deps.actorOf(req);
    if (allOrNone) {
      const checks = records.map((r) => {
        try {
          const object = state.object(typeOf(r) ?? '');
          if (!object) throw new SaveError([{ statusCode: 'INVALID_TYPE', message: 'sObject type is not supported', fields: [] }]);
          state.validate(object, r, 'create');
          return { id: null, success: true, errors: [] } as SaveResult;
        } catch (err) {
          return failure(err);
        }
      });
      if (checks.some((c) => !c.success)) return rolledBack(checks);
    }
    return records.map((r): SaveResult => {
      try {
        if (r['Id'] !== undefined)
          throw new SaveError([{ statusCode: 'INVALID_FIELD', message: 'cannot specify Id in an insert call', fields: ['Id'] }]);
        const record = state.create(typeOf(r) ?? '', r, actor);
        return { id: String(record['Id']), success: true, errors: [] };
      } catch (err) {
        return failure(err);
      }
    });
  });

  // sObject Collections: update (records carry `id`).
  app.patch(`${P}/composite/sobjects`, async (req) => {
    const { allOrNone, records } = collectionBody(req.body);
    const actor = deps.actorOf(req);
    const idOf = (r: Record<string, unknown>): string => String(r['id'] ?? r['Id'] ?? '');
    if (allOrNone) {
      const checks = records.map((r) => {
        try {
          const object = state.object(typeOf(r) ?? '');
          if (!object || !state.get(object.name, idOf(r)))
            throw new SaveError([{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }]);
          state.validate(object, r, 'update');
          return { id: idOf(r), success: true, errors: [] } as SaveResult;
        } catch (err) {
          return failure(err);
        }
      });
      if (checks.some((c) => !c.success)) return rolledBack(checks);
    }
    return records.map((r): SaveResult => {
      const id = idOf(r);
      try {
        const { id: _lower, ...fields } = r;
        const record = state.update(typeOf(r) ?? '', id, fields, actor);
        return { id: String(record['Id']), success: true, errors: [] };
      } catch (err) {
        const f = failure(err);
        return { ...f, id: id || null };
      }
    });
  });

  // sObject Collections: upsert by external id.
  app.patch(`${P}/composite/sobjects/:type/:field`, async (req) => {
    const { type, field } = req.params as { type: string; field: string };
    const object = objectOr404(type);
    const def = findField(object, field);
    if (!def?.externalId) throw badRequest('INVALID_FIELD', `Provided external ID field does not exist or is not accessible: ${field}`);
    const { allOrNone, records } = collectionBody(req.body);
    const actor = deps.actorOf(req);
    if (allOrNone) {
      const checks = records.map((r) => {
        try {
          state.validate(object, r, state.findByField(object.name, def.name, String(r[def.name] ?? '')).length > 0 ? 'update' : 'create');
          return { id: null, success: true, errors: [] } as SaveResult;
        } catch (err) {
          return failure(err);
        }
      });
      if (checks.some((c) => !c.success)) return rolledBack(checks);
    }
    return records.map((r): SaveResult => {
      try {
        const value = r[def.name];
        if (typeof value !== 'string' || value === '')
          throw new SaveError([{ statusCode: 'MISSING_ARGUMENT', message: `${def.name} not specified`, fields: [def.name] }]);
        if ((typeOf(r) ?? object.name).toLowerCase() !== object.name.toLowerCase())
          throw new SaveError([
            {
              statusCode: 'INVALID_TYPE',
              message: 'the list can contain objects only of the type indicated in the request URI',
              fields: [],
            },
          ]);
        const { record, created } = state.upsert(object.name, def.name, value, r, actor);
        return { id: String(record['Id']), success: true, errors: [], created };
      } catch (err) {
        return { ...failure(err), created: false };
      }
    });
  });

  // sObject Collections: retrieve by ids.
  app.post(`${P}/composite/sobjects/:type`, async (req) => {
    const object = objectOr404((req.params as { type: string }).type);
    const body = (req.body ?? {}) as { ids?: unknown; fields?: unknown };
    if (!Array.isArray(body.ids) || !Array.isArray(body.fields)) throw badRequest('JSON_PARSER_ERROR', 'ids and fields are required');
    if (body.ids.length > 2_000) throw badRequest('EXCEEDED_ID_LIMIT', 'too many ids');
    return body.ids.map((id) => {
      const record = state.get(object.name, String(id));
      return record ? recordJson(object, record, version(req), body.fields as string[]) : null;
    });
  });

  // sObject Collections: delete.
  app.delete(`${P}/composite/sobjects`, async (req) => {
    const q = req.query as { ids?: string; allOrNone?: string };
    const ids = (q.ids ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (ids.length === 0) throw badRequest('MISSING_ARGUMENT', 'ids is required');
    if (ids.length > MAX_COLLECTION)
      throw badRequest('EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    const actor = deps.actorOf(req);
    const owners = ids.map((id) => state.objectOfId(id));
    if (q.allOrNone === 'true' && ids.some((id, i) => !owners[i] || !state.get(owners[i]?.name ?? '', id))) {
      return ids.map((id, i) =>
        owners[i] && state.get(owners[i]?.name ?? '', id)
          ? {
              id: null,
              success: false,
              errors: [
                {
                  statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK',
                  message: 'Record rolled back because not all records were valid and the request was using AllOrNone header',
                  fields: [],
                },
              ],
            }
          : { id: null, success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] },
      );
    }
    return ids.map((id, i): SaveResult => {
      const owner = owners[i];
      if (!owner || !state.get(owner.name, id)) {
        return {
          id: null,
          success: false,
          errors: [
            {
              statusCode: owner ? 'ENTITY_IS_DELETED' : 'MALFORMED_ID',
              message: owner ? 'entity is deleted' : `malformed id ${id}`,
              fields: [],
            },
          ],
        };
      }
      state.delete(owner.name, id, actor);
      return { id, success: true, errors: [] };
    });
  });

  const runSoqlText = (
    text: string,
    withDeleted: boolean,
  ): { query: SoqlQuery; object: ObjectDef; rows: StoredRecord[]; fields: string[] } => {
    let query: SoqlQuery;
    try {
      query = parseSoql(text);
    } catch (err) {
      if (err instanceof SoqlSyntaxError) throw malformedQuery(`${text}\nERROR at Row:1:Column:${err.position + 1}\n${err.message}`);
      throw err;
    }
    const object = state.object(query.object);
    if (!object)
      throw badRequest(
        'INVALID_TYPE',
        `\n${text}\nsObject type '${query.object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name.`,
      );
    const noSuchColumn = (name: string, on: ObjectDef): SalesforceHttpError =>
      badRequest(
        'INVALID_FIELD',
        `\n${text}\nNo such column '${name}' on entity '${on.name}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.`,
      );
    const named = [...query.fields, ...comparisons(query.where).map((c) => c.field), ...query.orderBy.map((o) => o.field)];
    // A field hidden from the user by field-level security is, to SOQL, no column at all.
    const visible = (on: ObjectDef, name: string) => {
      const def = findField(on, name);
      return def && deps.fieldSecurity?.[`${on.name}.${def.name}`] !== 'hidden' ? def : undefined;
    };
    const fields: string[] = [];
    for (const name of named) {
      const def = visible(object, name);
      if (!def) throw noSuchColumn(name, object);
      if (query.fields.includes(name)) fields.push(def.name);
    }
    for (const cond of comparisons(query.where)) {
      if (!('subquery' in cond)) continue;
      const inner = state.object(cond.subquery.object);
      if (!inner) throw badRequest('INVALID_TYPE', `\n${text}\nsObject type '${cond.subquery.object}' is not supported.`);
      for (const name of [...cond.subquery.fields, ...comparisons(cond.subquery.where).map((c) => c.field)])
        if (!visible(inner, name)) throw noSuchColumn(name, inner);
    }
    const resolved = resolveSemiJoins(query, (name) => state.all(state.object(name)?.name ?? name), deps.now());
    const rows = runQuery(resolved, state.all(object.name, withDeleted), deps.now());
    state.noteRead(object.name, rows);
    return { query, object, rows, fields };
  };

  /** The first page of a query (or its count), keeping a cursor for `nextRecordsUrl`. */
  const firstPage = (req: FastifyRequest, withDeleted: boolean): Record<string, unknown> => {
    const q = (req.query as { q?: string }).q;
    const header = req.headers['sforce-query-options'];
    return queryPage(q, withDeleted, version(req), typeof header === 'string' ? header : undefined);
  };

  const queryPage = (
    q: string | undefined,
    withDeleted: boolean,
    apiVersion: string,
    options: string | undefined,
  ): Record<string, unknown> => {
    if (!q) throw malformedQuery('q is required');
    const { query, object, rows, fields } = runSoqlText(q, withDeleted);
    if (query.count) return { totalSize: rows.length, done: true, records: [] };
    const asked = options ? /batchSize=(\d+)/i.exec(options)?.[1] : undefined;
    const batch = Math.max(200, Math.min(deps.queryBatchSize, asked ? Number(asked) : deps.queryBatchSize));
    const cursor: QueryCursor = { object, rows, fields, offset: 0, batch: Math.min(batch, deps.queryBatchSize), version: apiVersion };
    return page(cursor, `01g5e0000${String(nextLocator++).padStart(6, '0')}AAA`);
  };

  const page = (cursor: QueryCursor, locatorBase: string): Record<string, unknown> => {
    const slice = cursor.rows.slice(cursor.offset, cursor.offset + cursor.batch);
    const end = cursor.offset + slice.length;
    const done = end >= cursor.rows.length;
    const result: Record<string, unknown> = {
      totalSize: cursor.rows.length,
      done,
      records: slice.map((r) => recordJson(cursor.object, r, cursor.version, cursor.fields)),
    };
    if (!done) {
      const locator = `${locatorBase}-${end}`;
      cursors.set(locator, { ...cursor, offset: end });
      result['nextRecordsUrl'] = `/services/data/${cursor.version}/query/${locator}`;
    }
    return result;
  };

  // Composite: up to 25 subrequests in one call (one API call toward the limits), of which at
  // most 5 are queries. The emulator runs query subrequests (`GET .../query?q=` and
  // `.../queryAll?q=`), each answered on its own (allOrNone does not apply to queries).
  // https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite.htm
  app.post(`${P}/composite`, async (req) => {
    const body = (req.body ?? {}) as { compositeRequest?: unknown };
    const subrequests = body.compositeRequest;
    if (!Array.isArray(subrequests) || subrequests.length === 0)
      throw badRequest('JSON_PARSER_ERROR', 'compositeRequest: expected a non-empty array');
    if (subrequests.length > 25) throw badRequest('LIMIT_EXCEEDED', 'A composite request can contain at most 25 subrequests');
    const parsed = subrequests.map((sub: unknown) => {
      const r = (sub ?? {}) as { method?: unknown; url?: unknown; referenceId?: unknown };
      if (typeof r.url !== 'string' || typeof r.referenceId !== 'string' || typeof r.method !== 'string')
        throw badRequest('JSON_PARSER_ERROR', 'each subrequest needs method, url and referenceId');
      const m = /^\/services\/data\/(v\d+\.\d)\/(query|queryAll)\/?\?q=(.*)$/.exec(r.url);
      if (r.method.toUpperCase() !== 'GET' || !m)
        throw badRequest('NOT_SUPPORTED', `the emulator runs only query subrequests (got ${r.method} ${r.url.split('?')[0]})`);
      return {
        referenceId: r.referenceId,
        apiVersion: m[1] ?? version(req),
        withDeleted: m[2] === 'queryAll',
        q: decodeURIComponent((m[3] ?? '').replace(/\+/g, ' ')),
      };
    });
    if (parsed.length > 5) throw badRequest('LIMIT_EXCEEDED', 'A composite request can contain at most 5 query operations');
    return {
      compositeResponse: parsed.map((sub) => {
        try {
          return {
            body: queryPage(sub.q, sub.withDeleted, sub.apiVersion, undefined),
            httpHeaders: {},
            httpStatusCode: 200,
            referenceId: sub.referenceId,
          };
        } catch (err) {
          if (!(err instanceof SalesforceHttpError)) throw err;
          return { body: err.body, httpHeaders: {}, httpStatusCode: err.statusCode, referenceId: sub.referenceId };
        }
      }),
    };
  });

  app.get(`${P}/query`, async (req) => firstPage(req, false));
  app.get(`${P}/queryAll`, async (req) => firstPage(req, true));
  app.get(`${P}/query/:locator`, async (req) => {
    const locator = (req.params as { locator: string }).locator;
    const cursor = cursors.get(locator);
    if (!cursor) throw new SalesforceHttpError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    cursors.delete(locator);
    return page(cursor, locator.replace(/-\d+$/, ''));
  });
}

/** Runs a SOQL text for Bulk API query jobs (same subset and errors as the REST query). */
export function runBulkSoql(state: OrgState, text: string, now: number): { object: ObjectDef; rows: StoredRecord[]; fields: string[] } {
  let query: SoqlQuery;
  try {
    query = parseSoql(text);
  } catch (err) {
    if (err instanceof SoqlSyntaxError) throw malformedQuery(err.message);
    throw err;
  }
  const object = state.object(query.object);
  if (!object) throw badRequest('INVALIDENTITY', `sObject type '${query.object}' is not supported.`);
  const fields: string[] = [];
  for (const name of [...query.fields, ...comparisons(query.where).map((c) => c.field), ...query.orderBy.map((o) => o.field)]) {
    const def = findField(object, name);
    if (!def) throw badRequest('INVALIDJOB', `No such column '${name}' on entity '${object.name}'`);
    if (query.fields.includes(name)) fields.push(def.name);
  }
  if (query.count) throw badRequest('INVALIDJOB', 'COUNT() is not supported by Bulk API 2.0 query');
  const resolved = resolveSemiJoins(query, (name) => state.all(state.object(name)?.name ?? name), now);
  const rows = runQuery(resolved, state.all(object.name), now);
  state.noteRead(object.name, rows);
  return { object, rows, fields };
}
