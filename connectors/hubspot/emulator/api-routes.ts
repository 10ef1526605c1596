/**
 * The HubSpot endpoints the connector uses, following the public API reference:
 * contacts v3 (list, batch read/upsert/update/archive, search, merge, gdpr-delete) and
 * communication preferences v4 (definitions, statuses batch read/write).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  HubSpotHttpError,
  errorBody,
  notFound,
  propertyValuesNotValid,
  standardError,
  validationError,
  type StandardError,
} from './errors.js';
import { runSearch, SearchRequest } from './search.js';
import { batchResponse, contactJson, statusJson } from './serialize.js';
import {
  ContactConflictError,
  isValidEmail,
  LEGAL_BASES,
  type ChangeOrigin,
  type HubSpotState,
  type PropertyInput,
  type StoredContact,
} from './state.js';

const MAX_BATCH = 100;
/** Objects one read returns when it asks for property history (`propertiesWithHistory`). */
const MAX_WITH_HISTORY = 50;
const PropertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const Properties = z.record(z.string(), PropertyValue);

const BatchReadBody = z.object({
  inputs: z.array(z.object({ id: z.string().min(1) })),
  properties: z.array(z.string()).optional(),
  propertiesWithHistory: z.array(z.string()).optional(),
  idProperty: z.string().optional(),
});
const UpsertBody = z.object({
  inputs: z.array(
    z.object({ id: z.string(), idProperty: z.string().optional(), properties: Properties, objectWriteTraceId: z.string().optional() }),
  ),
});
const UpdateBody = z.object({
  inputs: z.array(
    z.object({
      id: z.string().min(1),
      idProperty: z.string().optional(),
      properties: Properties,
      objectWriteTraceId: z.string().optional(),
    }),
  ),
});
const ArchiveBody = z.object({ inputs: z.array(z.object({ id: z.string().min(1) })) });
const GdprDeleteBody = z.object({ objectId: z.string().min(1), idProperty: z.string().optional() });
const MergeBody = z.object({ primaryObjectId: z.string().min(1), objectIdToMerge: z.string().min(1) });
const Channel = z.enum(['EMAIL', 'WHATSAPP', 'SMS']);
const StatusesReadBody = z.object({ inputs: z.array(z.string()) });
const StatusesWriteBody = z.object({
  inputs: z.array(
    z.object({
      subscriberIdString: z.string(),
      subscriptionId: z.number().int(),
      channel: Channel,
      statusState: z.enum(['SUBSCRIBED', 'UNSUBSCRIBED', 'NOT_SPECIFIED']),
      legalBasis: z.enum(LEGAL_BASES).optional(),
      legalBasisExplanation: z.string().optional(),
    }),
  ),
});

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw validationError(`Invalid input JSON: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'malformed body'}`);
  }
  return r.data;
}

function checkBatchSize(n: number): void {
  if (n > MAX_BATCH) throw validationError(`Batch input size exceeded. Maximum inputs allowed: ${MAX_BATCH}, received: ${n}`);
}

/** `properties` may come repeated (`?properties=a&properties=b`) or comma-separated. */
function propertiesParam(raw: unknown): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  return list
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

function rejectInvalidProperties(state: HubSpotState, inputs: { properties: PropertyInput }[]): void {
  const problems = inputs.flatMap((i) => state.validate(i.properties)).filter((p) => p.error !== 'INVALID_EMAIL');
  if (problems.length > 0) throw validationError(propertyValuesNotValid(problems));
}

export interface ApiContext {
  state: HubSpotState;
  now: () => number;
  origin: ChangeOrigin;
  searchResultCap: () => number;
  searchIndexLagMs: () => number;
  gdprEnabled: boolean;
}

export function registerApiRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { state, now, origin } = ctx;
  const C = '/crm/v3/objects/contacts';

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/get-crm-v3-objects-contacts
  app.get(C, async (req) => {
    const q = req.query as Record<string, unknown>;
    const limit = q.limit === undefined ? 10 : Number(q.limit);
    const withHistory = propertiesParam(q.propertiesWithHistory) ?? [];
    const max = withHistory.length > 0 ? MAX_WITH_HISTORY : 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > max) throw validationError(`Invalid input: limit must be between 1 and ${max}`);
    const archived = q.archived === 'true';
    const props = propertiesParam(q.properties);
    const all = archived ? [...state.contacts.values()].filter((c) => c.archived) : state.list();
    const after = q.after === undefined ? undefined : String(q.after);
    const start = after === undefined ? 0 : all.findIndex((c) => Number(c.id) >= Number(after));
    const page = start < 0 ? [] : all.slice(start, start + limit);
    const nextContact = start < 0 ? undefined : all[start + limit];
    const body: Record<string, unknown> = { results: page.map((c) => contactJson(state, c, props, { withHistory })) };
    if (nextContact) {
      body.paging = { next: { after: nextContact.id, link: `${C}?after=${nextContact.id}` } };
    }
    return body;
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-read
  app.post(`${C}/batch/read`, async (req, reply) => {
    const startedAt = now();
    const body = parse(BatchReadBody, req.body);
    const withHistory = body.propertiesWithHistory ?? [];
    checkBatchSize(body.inputs.length);
    if (withHistory.length > 0 && body.inputs.length > MAX_WITH_HISTORY)
      throw validationError(
        `Batch input size exceeded. Maximum inputs allowed with propertiesWithHistory: ${MAX_WITH_HISTORY}, received: ${body.inputs.length}`,
      );
    const archived = (req.query as Record<string, unknown>).archived === 'true';
    const results: unknown[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const { id } of body.inputs) {
      let contact: StoredContact | undefined;
      if (body.idProperty === 'email') contact = state.findByEmail(id);
      else if (body.idProperty && body.idProperty !== 'hs_object_id') throw validationError(`Invalid idProperty: ${body.idProperty}`);
      else {
        const resolved = archived ? id : state.resolveId(id);
        contact = resolved === undefined ? undefined : state.get(resolved, archived);
      }
      if (!contact) missing.push(id);
      else if (!seen.has(contact.id)) {
        seen.add(contact.id);
        results.push(contactJson(state, contact, body.properties, { withHistory }));
      }
    }
    const errors: StandardError[] =
      missing.length > 0
        ? [
            standardError(
              'OBJECT_NOT_FOUND',
              'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
              { ids: missing },
            ),
          ]
        : [];
    void reply.code(errors.length > 0 ? 207 : 200);
    return batchResponse(startedAt, now(), results, errors);
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-upsert
  app.post(`${C}/batch/upsert`, async (req, reply) => {
    const startedAt = now();
    const body = parse(UpsertBody, req.body);
    checkBatchSize(body.inputs.length);
    for (const input of body.inputs) {
      if (input.idProperty !== 'email')
        throw validationError(`Invalid idProperty: ${input.idProperty ?? '(missing)'}; upsert needs a unique property`);
    }
    const ids = body.inputs.map((i) => i.id.trim().toLowerCase());
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw validationError(`Duplicate IDs found in batch input: [${dup}]. IDs must be unique`);
    rejectInvalidProperties(state, body.inputs);

    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const input of body.inputs) {
      const email = input.id.trim().toLowerCase();
      const ownEmail = input.properties.email;
      const problems = state
        .validate({ email })
        .concat(typeof ownEmail === 'string' && ownEmail !== '' ? state.validate({ email: ownEmail }) : []);
      if (!isValidEmail(email) || problems.length > 0) {
        errors.push(standardError('VALIDATION_ERROR', propertyValuesNotValid(problems), { ids: [input.id] }));
        continue;
      }
      const props: PropertyInput = { ...input.properties, email: typeof ownEmail === 'string' && ownEmail !== '' ? ownEmail : email };
      try {
        const existing = state.findByEmail(email);
        const contact = existing ?? state.create(props, origin);
        if (existing) state.update(existing, props, origin);
        results.push({ ...contactJson(state, contact, Object.keys(props), { omitUnset: true }), new: existing === undefined });
      } catch (e) {
        if (!(e instanceof ContactConflictError)) throw e;
        errors.push(standardError('CONFLICT', e.message, { ids: [input.id] }));
      }
    }
    void reply.code(errors.length > 0 ? 207 : 200);
    return batchResponse(startedAt, now(), results, errors);
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-update
  app.post(`${C}/batch/update`, async (req, reply) => {
    const startedAt = now();
    const body = parse(UpdateBody, req.body);
    checkBatchSize(body.inputs.length);
    const ids = body.inputs.map((i) => i.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw validationError(`Duplicate IDs found in batch input: [${dup}]. IDs must be unique`);
    rejectInvalidProperties(state, body.inputs);
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const input of body.inputs) {
      const resolved = input.idProperty === 'email' ? state.findByEmail(input.id)?.id : state.resolveId(input.id);
      const contact = resolved === undefined ? undefined : state.get(resolved);
      if (!contact) {
        errors.push(
          standardError(
            'OBJECT_NOT_FOUND',
            'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
            { ids: [input.id] },
          ),
        );
        continue;
      }
      const email = input.properties.email;
      const problems = typeof email === 'string' && email !== '' ? state.validate({ email }) : [];
      if (problems.length > 0) {
        errors.push(standardError('VALIDATION_ERROR', propertyValuesNotValid(problems), { ids: [input.id] }));
        continue;
      }
      try {
        state.update(contact, input.properties, origin);
        results.push(contactJson(state, contact, Object.keys(input.properties)));
      } catch (e) {
        if (!(e instanceof ContactConflictError)) throw e;
        errors.push(standardError('CONFLICT', e.message, { ids: [input.id] }));
      }
    }
    void reply.code(errors.length > 0 ? 207 : 200);
    return batchResponse(startedAt, now(), results, errors);
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-archive
  app.post(`${C}/batch/archive`, async (req, reply) => {
    const body = parse(ArchiveBody, req.body);
    checkBatchSize(body.inputs.length);
    for (const { id } of body.inputs) {
      const contact = state.get(id);
      if (contact) state.archive(contact, origin);
    }
    return reply.code(204).send();
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/search/post-crm-v3-objects-contacts-search
  app.post(`${C}/search`, async (req) => {
    const body = parse(SearchRequest, req.body ?? {});
    const visibleBefore = now() - ctx.searchIndexLagMs();
    const indexed = state.list().filter((c) => c.updatedAt <= visibleBefore);
    const page = runSearch(indexed, body, ctx.searchResultCap());
    const asked = body.properties && body.properties.length > 0 ? body.properties : undefined;
    const out: Record<string, unknown> = { total: page.total, results: page.results.map((c) => contactJson(state, c, asked)) };
    if (page.nextAfter !== undefined) out.paging = { next: { after: page.nextAfter } };
    return out;
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-merge
  app.post(`${C}/merge`, async (req) => {
    const body = parse(MergeBody, req.body);
    if (body.primaryObjectId === body.objectIdToMerge) throw validationError('Cannot merge a contact with itself');
    const primary = state.get(body.primaryObjectId);
    const secondary = state.get(body.objectIdToMerge);
    if (!primary || !secondary) throw notFound();
    return contactJson(state, state.merge(primary, secondary, origin));
  });

  // https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/gdpr/post-crm-v3-objects-contacts-gdpr-delete
  app.post(`${C}/gdpr-delete`, async (req, reply) => {
    const body = parse(GdprDeleteBody, req.body);
    if (body.idProperty === 'email') {
      const contact = state.findByEmail(body.objectId);
      if (contact) state.gdprDelete(contact, origin);
      else state.blocklist.add(body.objectId.trim().toLowerCase());
      return reply.code(204).send();
    }
    if (body.idProperty && body.idProperty !== 'hs_object_id') throw validationError(`Invalid idProperty: ${body.idProperty}`);
    const contact = state.get(body.objectId);
    if (!contact) throw notFound();
    state.gdprDelete(contact, origin);
    return reply.code(204).send();
  });

  // https://developers.hubspot.com/docs/api-reference/crm-properties-v3/core/get-crm-v3-properties-objectType
  app.get('/crm/v3/properties/:objectType', async (req) => {
    const { objectType } = req.params as { objectType: string };
    if (objectType !== 'contacts' && objectType !== '0-1') throw validationError(`Unable to infer object type from: ${objectType}`);
    const at = new Date(0).toISOString();
    return {
      results: state.propertyDefinitions().map((p, i) => ({
        updatedAt: at,
        createdAt: at,
        name: p.name,
        label: p.label,
        type: 'string',
        fieldType: 'text',
        description: '',
        groupName: 'contactinformation',
        options: [],
        displayOrder: i,
        calculated: false,
        externalOptions: false,
        hasUniqueValue: p.name === 'hs_object_id',
        hidden: false,
        hubspotDefined: p.hubspotDefined,
        modificationMetadata: { archivable: !p.hubspotDefined, readOnlyDefinition: p.hubspotDefined, readOnlyValue: p.readOnlyValue },
        formField: !p.readOnlyValue,
      })),
    };
  });

  const P = '/communication-preferences/v4';

  // https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-definitions/get-communication-preferences-v4-definitions
  app.get(`${P}/definitions`, async () => {
    const t = now();
    return batchResponse(
      t,
      now(),
      state.definitions.map((d) => ({
        id: String(d.id),
        name: d.name,
        description: d.description,
        purpose: d.purpose,
        communicationMethod: 'Email',
        isActive: true,
        isDefault: false,
        isInternal: false,
        businessUnitId: 0,
        createdAt: new Date(d.createdAt).toISOString(),
        updatedAt: new Date(d.updatedAt).toISOString(),
      })),
      [],
    );
  });

  function requireEmailChannel(query: unknown): void {
    const channel = (query as Record<string, unknown>).channel;
    if (channel === undefined) throw validationError('Invalid input: query parameter channel is required');
    const parsed = Channel.safeParse(channel);
    if (!parsed.success) throw validationError(`Invalid input: unknown channel ${String(channel)}`);
    if (parsed.data !== 'EMAIL') throw validationError(`Invalid input: channel ${parsed.data} is not supported; only EMAIL is`);
  }

  // https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-read
  app.post(`${P}/statuses/batch/read`, async (req, reply) => {
    const startedAt = now();
    requireEmailChannel(req.query);
    const body = parse(StatusesReadBody, req.body);
    checkBatchSize(body.inputs.length);
    const results: unknown[] = [];
    const invalid: string[] = [];
    for (const raw of body.inputs) {
      const email = raw.trim().toLowerCase();
      if (!isValidEmail(email)) {
        invalid.push(raw);
        continue;
      }
      state.noteStatusesRead(email);
      results.push({ subscriberIdString: email, statuses: state.statusesOf(email).map((s) => statusJson(state, email, s)) });
    }
    const errors = invalid.length > 0 ? [standardError('VALIDATION_ERROR', 'Invalid email address', { ids: invalid })] : [];
    void reply.code(errors.length > 0 ? 207 : 200);
    return batchResponse(startedAt, now(), results, errors);
  });

  // https://developers.hubspot.com/docs/api-reference/communication-preferences-subscriptions-v4/subscription-status/post-communication-preferences-v4-statuses-batch-write
  app.post(`${P}/statuses/batch/write`, async (req) => {
    const startedAt = now();
    const body = parse(StatusesWriteBody, req.body);
    checkBatchSize(body.inputs.length);
    const results: unknown[] = [];
    const errors: StandardError[] = [];
    for (const input of body.inputs) {
      const email = input.subscriberIdString.trim().toLowerCase();
      const context = { subscriberIdString: [input.subscriberIdString], subscriptionId: [String(input.subscriptionId)] };
      if (input.channel !== 'EMAIL') {
        errors.push(standardError('VALIDATION_ERROR', `Channel ${input.channel} is not supported`, context));
      } else if (!isValidEmail(email)) {
        errors.push(standardError('VALIDATION_ERROR', 'Invalid email address', context));
      } else if (!state.definition(input.subscriptionId)) {
        errors.push(standardError('OBJECT_NOT_FOUND', `Subscription ${input.subscriptionId} does not exist`, context));
      } else if (ctx.gdprEnabled && input.statusState === 'SUBSCRIBED' && !input.legalBasis) {
        errors.push(
          standardError('VALIDATION_ERROR', 'A legal basis is required to subscribe a contact when GDPR features are enabled', context),
        );
      } else {
        const { status, reason } = state.setStatus(
          email,
          input.subscriptionId,
          input.statusState,
          input.legalBasis ?? null,
          input.legalBasisExplanation ?? null,
          origin,
        );
        results.push(statusJson(state, email, status, reason));
      }
    }
    return batchResponse(startedAt, now(), results, errors);
  });
}

/** Renders errors the way HubSpot does. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, _req, reply) => {
    if (err instanceof HubSpotHttpError) return reply.code(err.statusCode).send(err.body);
    if (err instanceof z.ZodError)
      return reply.code(400).send(errorBody('VALIDATION_ERROR', `Invalid input: ${err.issues[0]?.message ?? ''}`));
    const statusCode = typeof err === 'object' && err !== null && 'statusCode' in err ? Number(err.statusCode) : 500;
    if (statusCode >= 400 && statusCode < 500) {
      const message = err instanceof Error ? err.message : 'Invalid input';
      return reply.code(statusCode).send(errorBody('VALIDATION_ERROR', `Invalid input JSON: ${message}`));
    }
    return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Internal error'));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody('OBJECT_NOT_FOUND', 'resource not found')));
}
