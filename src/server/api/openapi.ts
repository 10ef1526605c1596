/**
 * The OpenAPI 3.1 document of the admin API, generated from the operations' zod schemas
 * (served at /api/v1/openapi.json). Shared shapes become named components.
 */
import { z } from 'zod';
import { ConsentInput, ConsentState, Identity, Json, Profile, ProfileIdentity } from '../../profile/schema.js';
import { DeadLetter, PlanReport } from '../../sync/index.js';
import { Problem } from '../problem.js';
import type { Operation } from './operation.js';
import { ProfileView } from './schemas.js';

type JsonSchema = Record<string, unknown>;

/** Named shapes that appear in several operations. */
const SHARED: Record<string, z.ZodType> = {
  Json,
  Identity,
  ProfileIdentity,
  ConsentInput,
  ConsentState,
  Profile,
  ProfileView,
  DeadLetter,
  PlanReport,
  Problem,
};

function unwrapDefault(schema: z.ZodType): { schema: z.ZodType; optional: boolean } {
  let current = schema;
  let optional = false;
  while (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodPrefault) {
    optional = true;
    current = current.unwrap() as z.ZodType;
  }
  return { schema: current, optional };
}

function upperFirst(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Converts the schemas of one direction (request: input types; response: output types) into components. */
function components(named: Map<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(SHARED)) registry.add(schema, { id });
  for (const [id, schema] of named) if (!registry.has(schema)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  return out;
}

function inlineSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (schema === undefined) return [];
  const object = unwrapDefault(schema).schema;
  if (!(object instanceof z.ZodObject)) return [];
  return Object.entries(object.shape as Record<string, z.ZodType>).map(([name, field]) => {
    const { schema: inner, optional } = unwrapDefault(field);
    const json = inlineSchema(inner);
    const description = typeof json['description'] === 'string' ? json['description'] : undefined;
    return {
      name,
      in: where,
      required: where === 'path' || !optional,
      ...(description === undefined ? {} : { description }),
      schema: json,
    };
  });
}

const ERROR_TEXT: Record<number, string> = {
  400: 'The request is malformed (see issues).',
  401: 'No valid API key.',
  403: 'The API key lacks the scope this operation needs.',
  404: 'Not found.',
  409: 'Conflict.',
  422: 'The request is well-formed but cannot be applied.',
  429: 'Too many requests.',
};

export function openApiDocument(operations: readonly Operation[], serverUrl: string): JsonSchema {
  const requests = new Map<string, z.ZodType>();
  const responses = new Map<string, z.ZodType>();
  // The component each operation's bodies are: a shared shape keeps its own name.
  const idOf = new Map<z.ZodType, string>(Object.entries(SHARED).map(([id, schema]) => [schema, id]));
  for (const op of operations) {
    if (op.body) {
      const body = unwrapDefault(op.body).schema;
      if (!idOf.has(body)) idOf.set(body, `${upperFirst(op.id)}Request`);
      requests.set(idOf.get(body) ?? '', body);
    }
    if (!idOf.has(op.response)) idOf.set(op.response, `${upperFirst(op.id)}Response`);
    responses.set(idOf.get(op.response) ?? '', op.response);
  }
  const inputs = components(requests, 'input');
  const schemas = components(responses, 'output');
  // A shared shape may read differently as input (defaults are optional there): such shapes get
  // an `<Name>Input` twin, and request schemas point at the twins.
  const twins = new Set(
    Object.keys(inputs).filter(
      (id) => !requests.has(id) && schemas[id] !== undefined && JSON.stringify(schemas[id]) !== JSON.stringify(inputs[id]),
    ),
  );
  const refOf = (id: string): string => `#/components/schemas/${twins.has(id) ? `${id}Input` : id}`;
  for (const [id, schema] of Object.entries(inputs)) {
    if (!requests.has(id) && !twins.has(id)) continue;
    const text = JSON.stringify(schema).replace(/"#\/components\/schemas\/([A-Za-z]+)"/g, (_m, ref: string) => JSON.stringify(refOf(ref)));
    schemas[requests.has(id) ? id : `${id}Input`] = JSON.parse(text) as JsonSchema;
  }

  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of operations) {
    const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
    const errorCodes = [...new Set([400, 401, 403, 429, ...(op.errors ?? [])])].sort();
    const operation: JsonSchema = {
      operationId: op.id,
      summary: op.summary,
      ...(op.description === undefined ? {} : { description: op.description }),
      tags: [op.tag],
      security: [{ apiKey: [op.scope] }],
      'x-required-scope': op.scope,
      parameters: [...parameters(op.params, 'path'), ...parameters(op.query, 'query')],
      ...(op.body
        ? {
            requestBody: {
              required: !unwrapDefault(op.body).optional,
              content: { 'application/json': { schema: { $ref: refOf(idOf.get(unwrapDefault(op.body).schema) ?? '') } } },
            },
          }
        : {}),
      responses: {
        [String(op.status ?? 200)]: {
          description: 'Success.',
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${idOf.get(op.response) ?? ''}` } } },
        },
        ...Object.fromEntries(errorCodes.map((code) => [String(code), { description: ERROR_TEXT[code] ?? 'Error.', content: problem }])),
      },
    };
    const path = `/api/v1${op.path}`;
    paths[path] = { ...paths[path], [op.method.toLowerCase()]: operation };
    for (const r of op.renditions ?? []) {
      paths[`${path}${r.suffix}`] = {
        get: {
          operationId: r.id,
          summary: r.summary,
          tags: [op.tag],
          security: [{ apiKey: [op.scope] }],
          'x-required-scope': op.scope,
          parameters: parameters(op.params, 'path'),
          responses: {
            '200': { description: 'Success.', content: { [r.mediaType]: { schema: { type: 'string' } } } },
            ...Object.fromEntries(
              errorCodes.map((code) => [String(code), { description: ERROR_TEXT[code] ?? 'Error.', content: problem }]),
            ),
          },
        },
      };
    }
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Concord admin API',
      version: '1',
      description:
        'Profiles, consent history, sync state, connector status, dead letters and preference-center links. Authenticate with `Authorization: Bearer <key>`; each operation names the scope it needs (`admin` includes all).',
    },
    servers: [{ url: serverUrl }],
    tags: [
      { name: 'Profiles', description: 'The living profile of each person.' },
      { name: 'Preference center', description: 'Personal links to the self-service preference center.' },
      { name: 'Operations', description: 'Connector status and dead letters.' },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from hub.apiKeys in concord.yaml.' },
      },
    },
  };
}
