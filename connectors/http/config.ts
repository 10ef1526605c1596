/**
 * The generic HTTP connector's own YAML keys, for a REST system declared in YAML (an instance with
 * `type: http`), and its pull cursor. The JSON Schema of `config/concord.yaml` derives from it
 * (`npm run schema`). Nothing here executes: paths are RFC 6570 URI templates, selectors are
 * RFC 9535 JSONPath queries, bodies are JSON templates with named placeholders only.
 *
 * The system's records are JSON objects. An external field name (a mapping's `external`) is a
 * dotted path into the record (`consents.email_marketing`), read and written at that place.
 */
import { z } from 'zod';
import { Duration } from '../../src/config/duration.js';
import { secret } from '../../src/config/secret.js';
import { isValidJsonPath, StandardWebhooksSecret } from './webhook.js';
import { FIELD_PLACEHOLDER, placeholdersOf } from './template.js';

/**
 * A duration as YAML writes it (`15s`), or a number of milliseconds, so that a parsed config parses
 * again to itself (the engine and tests hand the parsed value back to the connector).
 */
const Ms = z.union([Duration, z.number().int().nonnegative()]);

/** A duration above zero (a timeout, a window, a wait between attempts). */
const PositiveMs = Ms.refine((ms) => ms > 0, 'expected a duration above 0, e.g. 15s');

/** Whether a URL carries no `user:password@` (`fetch` would not send it, and the file would hold a secret). */
function withoutCredentials(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.username === '' && parsed.password === '';
  } catch {
    return true; // the URL check reports it
  }
}

/** An absolute http(s) URL without credentials. */
const HttpUrl = z
  .url({ protocol: /^https?$/, error: 'expected an absolute http:// or https:// URL' })
  .refine(
    withoutCredentials,
    'credentials in the URL (user:password@) are refused: give them through auth, with the secret as ${env:NAME}',
  );

/** A `whsec_…` secret, given as `${env:NAME}`. */
const WebhookSecret = secret(StandardWebhooksSecret, 'A Standard Webhooks secret, whsec_ and the base64 of 24 to 64 bytes.');

/** A dotted path into a record: `email`, `consents.email_marketing`. */
const FieldPath = z
  .string()
  .regex(/^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/, 'expected a dotted field path such as consents.email_marketing');

/** An RFC 9535 JSONPath query into a response or payload, e.g. `$.data[*]`. */
const JsonPath = z.string().refine(isValidJsonPath, 'expected an RFC 9535 JSONPath query such as $.data[*]');

/** A path below `baseUrl`, an RFC 6570 URI template: `/contacts/{id}`. */
const PathTemplate = z.string().regex(/^\//, 'a path starts with /, below baseUrl');

/** Fixed query parameters, e.g. `{ limit: '100' }`; values may use the same placeholders as the path. */
const Query = z.record(z.string().min(1), z.string());

const Method = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** A JSON body template: literal JSON in which a string that is exactly `{{name}}` is replaced by that value. */
const BodyTemplate = z.json();

/** HTTP statuses, e.g. `[404, 410]`. */
const Statuses = z.array(z.number().int().min(100).max(599));

export const HttpAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: secret('The bearer token.') }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: secret('The basic-auth password.') }).strict(),
  z
    .object({
      type: z.literal('apiKey'),
      /** The header carrying the key. @defaultValue `X-API-Key` */
      header: z.string().min(1).default('X-API-Key'),
      key: secret('The API key.'),
    })
    .strict(),
  z
    .object({
      type: z.literal('oauth2'),
      /** The token endpoint (RFC 6749 §4.4, client credentials), an absolute URL. */
      tokenUrl: HttpUrl,
      clientId: z.string().min(1),
      clientSecret: secret('The OAuth2 client secret.'),
      /** @defaultValue none */
      scope: z.string().min(1).optional(),
    })
    .strict(),
]);
export type HttpAuth = z.infer<typeof HttpAuth>;

/** Where a list endpoint's next page comes from. */
export const Paging = z.discriminatedUnion('type', [
  /** One page only. */
  z.object({ type: z.literal('none') }).strict(),
  /** A cursor in the body (`next`, a JSONPath), passed back in the query parameter `param`. */
  z.object({ type: z.literal('cursor'), next: JsonPath, param: z.string().min(1) }).strict(),
  /** The next page's URL in the body (`next`, a JSONPath). */
  z.object({ type: z.literal('nextLink'), next: JsonPath }).strict(),
  /** The next page's URL in the `Link` header (RFC 8288, `rel="next"`). */
  z.object({ type: z.literal('linkHeader') }).strict(),
  /** Offset and limit query parameters; a page shorter than `pageSize` is the last. */
  z
    .object({
      type: z.literal('offset'),
      offsetParam: z.string().min(1).default('offset'),
      limitParam: z.string().min(1).default('limit'),
      pageSize: z.number().int().positive().max(10_000).default(100),
    })
    .strict(),
]);
export type Paging = z.infer<typeof Paging>;

/** How an instant is written in a query parameter or a record. */
const TimeFormat = z.enum(['iso', 'epochSeconds', 'epochMillis']);
export type TimeFormat = z.infer<typeof TimeFormat>;

export const ListEndpoint = z
  .object({
    path: PathTemplate,
    query: Query.default({}),
    /** Where the records are in a page, e.g. `$.data[*]`. */
    records: JsonPath,
    /** The incremental filter: the query parameter that takes the cursor's time. @defaultValue none: every pull reads everything */
    since: z
      .object({
        param: z.string().min(1),
        format: TimeFormat.default('iso'),
        /**
         * How far behind the cursor a pull starts, for records committed late with an older stamp.
         * @defaultValue `1m`
         */
        lookback: Ms.prefault('1m'),
      })
      .strict()
      .optional(),
    paging: Paging.default({ type: 'none' }),
  })
  .strict();
export type ListEndpoint = z.infer<typeof ListEndpoint>;

/** One record by id (read-back after a webhook, erase and export checks): `{id}` in the path. */
export const GetEndpoint = z
  .object({
    path: PathTemplate,
    query: Query.default({}),
    /** Where the record is in the response. @defaultValue `$` (the body is the record) */
    record: JsonPath.default('$'),
  })
  .strict();

/** Records by e-mail address (erase and export by e-mail, finding a record a failed create may have made): `{email}`. */
export const FindEndpoint = z.object({ path: PathTemplate, query: Query.default({}), records: JsonPath }).strict();

/** Records by phone number (`find` for data-subject requests): `{phone}`, and the field of a record that holds the number. */
export const FindPhoneEndpoint = z
  .object({
    path: PathTemplate,
    query: Query.default({}),
    records: JsonPath,
    /** The field of a found record holding the phone number (only records whose number equals the one asked are kept). @defaultValue `phone` */
    field: FieldPath.default('phone'),
  })
  .strict();

/** A write of one record. */
export const WriteEndpoint = z
  .object({
    method: Method,
    path: PathTemplate,
    query: Query.default({}),
    /** @defaultValue `"{{record}}"` (the mapped fields as the body) */
    body: BodyTemplate.default('{{record}}'),
    /** Where the record's id is in the response (create and upsert). @defaultValue the record id path under `$` */
    id: JsonPath.optional(),
  })
  .strict();
export type WriteEndpoint = z.infer<typeof WriteEndpoint>;

/** A write of many records in one call, with an outcome per record in the response. */
export const BatchEndpoint = z
  .object({
    method: Method.default('POST'),
    path: PathTemplate,
    query: Query.default({}),
    /** Most records per call. */
    maxBatch: z.number().int().positive().max(10_000),
    /** The body; `{{items}}` is the list of items. */
    body: BodyTemplate,
    /** One item; `{{ref}}` identifies it in the results, `{{id}}` its id (left out when unknown), `"...": "{{record}}"` spreads the fields. */
    item: BodyTemplate.default('{{record}}'),
    /** Where the per-record results are, e.g. `$.results[*]`. */
    results: JsonPath,
    /** A result's item ref (dotted path). @defaultValue none: results are in item order */
    resultRef: FieldPath.optional(),
    /** A result's record id (dotted path). */
    resultId: FieldPath,
    /** A result's outcome (dotted path) and the value meaning success. */
    resultStatus: z.object({ path: FieldPath, ok: z.union([z.string(), z.boolean(), z.number()]) }).strict(),
    /** A result's error message (dotted path). @defaultValue none */
    resultError: FieldPath.optional(),
    /** A result's "created" flag (dotted path). @defaultValue none */
    resultCreated: FieldPath.optional(),
  })
  .strict();
export type BatchEndpoint = z.infer<typeof BatchEndpoint>;

/** A call on one record by id (`{id}`): erasure. */
export const DeleteEndpoint = z
  .object({
    method: Method.default('DELETE'),
    path: PathTemplate,
    query: Query.default({}),
    /** Statuses meaning "no such record". @defaultValue `[404, 410]` */
    notFound: Statuses.default([404, 410]),
  })
  .strict();

/** Standard Webhooks the system sends (https://www.standardwebhooks.com/). */
export const InboundWebhooks = z
  .object({
    /** `whsec_…` secrets; a webhook signed by any of them is accepted (rotation: list the new one beside the old). */
    secrets: z.array(WebhookSecret).min(1),
    /** Event types and where each names its record. */
    events: z
      .array(
        z
          .object({
            /** The event `type`, exact, or a prefix ending in `*`. */
            type: z.string().min(1),
            /** Where the payload names the record id, e.g. `$.data.id`. */
            id: JsonPath,
            /** What the event means. @defaultValue `changed` */
            kind: z.enum(['changed', 'deleted', 'erase']).default('changed'),
          })
          .strict(),
      )
      .min(1),
    /**
     * Where the whole record is in a `changed` payload, to take the values from the signed payload
     * instead of reading the record back. Only for a sender whose secret nobody else holds.
     * @defaultValue none: the record is read back (`read.get` required)
     */
    authoritativeRecord: JsonPath.optional(),
    /** Largest accepted body. @defaultValue 256 KiB */
    maxBodyBytes: z
      .number()
      .int()
      .positive()
      .max(5 * 1024 * 1024)
      .default(256 * 1024),
  })
  .strict();
export type InboundWebhooks = z.infer<typeof InboundWebhooks>;

/** The events the hub sends (`webhooksOut.events`). */
export const OUTBOUND_EVENT_TYPES = ['profile.updated', 'consent.changed', 'subscription.changed', 'dsr.erasure_requested'] as const;

/** The spec's example schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. */
const SPEC_SCHEDULE = ['5s', '5m', '30m', '2h', '5h', '10h', '14h', '20h', '24h'];

/** Standard Webhooks the hub sends to the system. */
export const OutboundWebhooksConfig = z
  .object({
    /** The system's endpoint, an absolute URL. */
    url: HttpUrl,
    /** `whsec_…` secret(s): every listed secret signs each message (rotation). */
    secrets: z.array(WebhookSecret).min(1),
    /** @defaultValue all four */
    events: z
      .array(z.enum(OUTBOUND_EVENT_TYPES))
      .min(1)
      .default([...OUTBOUND_EVENT_TYPES]),
    /** Waits between attempts. @defaultValue the spec's 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h */
    retrySchedule: z.array(PositiveMs).min(1).max(20).prefault(SPEC_SCHEDULE),
    /** @defaultValue `15s` */
    timeout: PositiveMs.prefault('15s'),
  })
  .strict();
export type OutboundWebhooksConfig = z.infer<typeof OutboundWebhooksConfig>;

export const HttpConfig = z
  .object({
    /** The system's API root, e.g. `https://crm.example.com/api`; paths are below it. */
    baseUrl: HttpUrl.meta({ description: 'The API root; endpoint paths are appended to it.' }),
    /**
     * Let the hub call private, loopback and link-local addresses (the emulators, an intranet system).
     * @defaultValue `false` (such targets are refused: SSRF)
     */
    allowPrivateNetwork: z.boolean().default(false).meta({ description: 'Allow private/loopback targets (default false).' }),
    /** @defaultValue `{ type: none }` */
    auth: HttpAuth.default({ type: 'none' }),
    /** Calls per window and calls at once, for every call the instance makes (pages, reads, writes). */
    rateLimit: z
      .object({
        /** @defaultValue 10 */
        requests: z.number().int().positive().default(10),
        /** @defaultValue `1s` */
        per: PositiveMs.prefault('1s'),
        /** @defaultValue 4 */
        concurrency: z.number().int().positive().max(64).default(4),
      })
      .strict()
      .prefault({})
      .meta({ description: 'The system’s published request limit; a 429 with Retry-After parks beyond it.' }),
    /** Longest wait for one call. @defaultValue `15s` */
    timeout: PositiveMs.prefault('15s'),
    /** Largest response read. @defaultValue 5 MiB */
    maxResponseBytes: z
      .number()
      .int()
      .positive()
      .default(5 * 1024 * 1024),
    /** Largest request body sent. @defaultValue 1 MiB */
    maxRequestBytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    /** Where a record keeps its id and its last change time (dotted paths). */
    record: z
      .object({
        id: FieldPath,
        updatedAt: FieldPath,
        /** @defaultValue `iso` */
        updatedAtFormat: TimeFormat.default('iso'),
        /** A boolean field that marks a deleted (archived) record. @defaultValue none */
        deleted: FieldPath.optional(),
        /** The field holding the e-mail address (to find a record by it). @defaultValue `email` */
        email: FieldPath.default('email'),
      })
      .strict(),
    read: z
      .object({
        /** @defaultValue none: no pulls */
        list: ListEndpoint.optional(),
        /** @defaultValue none: no read-back (webhooks must then be authoritative) */
        get: GetEndpoint.optional(),
        /** @defaultValue none: erase and export by e-mail are refused (an erasure webhook still carries the e-mail) */
        find: FindEndpoint.optional(),
        /** @defaultValue none: `find` matches no phone number */
        findPhone: FindPhoneEndpoint.optional(),
      })
      .strict()
      .default({}),
    write: z
      .object({
        /** @defaultValue none */
        create: WriteEndpoint.optional(),
        /** `{id}` in the path. @defaultValue none */
        update: WriteEndpoint.optional(),
        /** One call that creates or updates (by `{id}` or `{email}`). @defaultValue none */
        upsert: WriteEndpoint.optional(),
        /** @defaultValue none */
        batch: BatchEndpoint.optional(),
      })
      .strict()
      .default({}),
    /** @defaultValue none: erasure only through `webhooksOut` (dsr.erasure_requested), if at all */
    delete: DeleteEndpoint.optional(),
    /** @defaultValue `read.get` */
    export: GetEndpoint.optional(),
    /** @defaultValue none */
    webhooks: InboundWebhooks.optional(),
    /** @defaultValue none */
    webhooksOut: OutboundWebhooksConfig.optional(),
  })
  .strict()
  .superRefine(checkEndpoints);
export type HttpConfig = z.infer<typeof HttpConfig>;
export type HttpConfigInput = z.input<typeof HttpConfig>;

const ALLOWED: Record<'write' | 'item' | 'batch', readonly string[]> = {
  write: ['record', 'id', 'email'],
  item: ['record', 'id', 'email', 'ref'],
  batch: ['items'],
};

/** The variables each endpoint fills in its path and query (what the connector knows when it calls). */
const URI_VARIABLES = {
  list: [],
  batch: [],
  get: ['id'],
  export: ['id'],
  delete: ['id'],
  find: ['email'],
  findPhone: ['phone'],
  // A record being created has no id yet.
  create: ['email'],
  update: ['id', 'email'],
  upsert: ['id', 'email'],
} as const satisfies Record<string, readonly string[]>;

/** How to write a brace that is not a variable (RFC 6570 §2.1: literals may be pct-encoded). */
const LITERAL_BRACES = ' (write a literal { or } as %7B or %7D)';

/** The instance's `mappings` as the loader checks them (its common key, beside these keys). */
const MappedExternals = z.object({ mappings: z.array(z.looseObject({ external: z.string() })) }).loose();

/**
 * The external fields the instance's mappings carry, when the value checked is a whole instance
 * (the config loader checks these rules on it, common keys included); undefined for the
 * connector's own keys alone, where a field placeholder cannot be judged.
 */
function mappedExternals(value: unknown): Set<string> | undefined {
  const parsed = MappedExternals.safeParse(value);
  return parsed.success ? new Set(parsed.data.mappings.map((m) => m.external)) : undefined;
}

/** The rules across keys: what each endpoint needs, and placeholders each template may name. */
function checkEndpoints(c: HttpConfig, ctx: z.RefinementCtx): void {
  const report = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const { create, update, upsert, batch } = c.write;
  if (create !== undefined && update === undefined)
    report(['write', 'create'], 'write.create needs write.update (a record the hub knows is updated)');
  if (upsert !== undefined && (create !== undefined || update !== undefined))
    report(['write', 'upsert'], 'write.upsert replaces write.create and write.update: declare one or the other');
  const templates: [(string | number)[], unknown, readonly string[], string][] = [];
  const uri = (where: string[], endpoint: { path: string; query: Record<string, string> } | undefined, allowed: readonly string[]) => {
    if (endpoint === undefined) return;
    templates.push([[...where, 'path'], endpoint.path, allowed, LITERAL_BRACES]);
    for (const [key, value] of Object.entries(endpoint.query)) templates.push([[...where, 'query', key], value, allowed, LITERAL_BRACES]);
  };
  for (const [name, endpoint] of Object.entries({ create, update, upsert })) {
    if (endpoint !== undefined) templates.push([['write', name, 'body'], endpoint.body, ALLOWED.write, '']);
  }
  uri(['write', 'create'], create, URI_VARIABLES.create);
  uri(['write', 'update'], update, URI_VARIABLES.update);
  uri(['write', 'upsert'], upsert, URI_VARIABLES.upsert);
  uri(['write', 'batch'], batch, URI_VARIABLES.batch);
  uri(['read', 'list'], c.read.list, URI_VARIABLES.list);
  uri(['read', 'get'], c.read.get, URI_VARIABLES.get);
  uri(['read', 'find'], c.read.find, URI_VARIABLES.find);
  uri(['read', 'findPhone'], c.read.findPhone, URI_VARIABLES.findPhone);
  uri(['export'], c.export, URI_VARIABLES.export);
  uri(['delete'], c.delete, URI_VARIABLES.delete);
  if (update !== undefined && !placeholdersOf(update.path).includes('id'))
    report(['write', 'update', 'path'], 'write.update.path must name {id}');
  if (batch !== undefined) {
    templates.push([['write', 'batch', 'body'], batch.body, ALLOWED.batch, ''], [['write', 'batch', 'item'], batch.item, ALLOWED.item, '']);
    if (!placeholdersOf(batch.body).includes('items')) report(['write', 'batch', 'body'], 'write.batch.body must contain "{{items}}"');
  }
  for (const [name, endpoint] of Object.entries({ get: c.read.get, export: c.export, delete: c.delete })) {
    if (endpoint === undefined) continue;
    const where = name === 'get' ? ['read', 'get', 'path'] : [name, 'path'];
    if (!placeholdersOf(endpoint.path).includes('id')) report(where, `${where.join('.')} must name {id}`);
  }
  if (
    c.read.find !== undefined &&
    ![c.read.find.path, ...Object.values(c.read.find.query)].some((t) => placeholdersOf(t).includes('email'))
  )
    report(['read', 'find'], 'read.find must name {email} in its path or query');
  if (
    c.read.findPhone !== undefined &&
    ![c.read.findPhone.path, ...Object.values(c.read.findPhone.query)].some((t) => placeholdersOf(t).includes('phone'))
  )
    report(['read', 'findPhone'], 'read.findPhone must name {phone} in its path or query');
  const mapped = mappedExternals(c);
  for (const [path, template, allowed, hint] of templates) {
    for (const name of placeholdersOf(template)) {
      if (name.startsWith(FIELD_PLACEHOLDER) && allowed.includes('record')) {
        const field = name.slice(FIELD_PLACEHOLDER.length);
        if (mapped !== undefined && !mapped.has(field))
          report(
            path,
            `the template names the field ${field}, which no mapping of this instance carries (mapped: ${[...mapped].join(', ') || 'none'})`,
          );
      } else if (!allowed.includes(name))
        report(path, `unknown placeholder ${name}: this template may use ${allowed.length === 0 ? 'none' : allowed.join(', ')}${hint}`);
    }
  }
  if (c.webhooks !== undefined && c.webhooks.authoritativeRecord === undefined && c.read.get === undefined)
    report(['webhooks'], 'webhooks need read.get to read a notified record back, or webhooks.authoritativeRecord');
}

/**
 * The pull cursor: `since`, the newest change stamp ingested (ISO), where the next walk starts
 * (minus the look-back); `page`, how to resume a walk cut short (the paging state after the last
 * page saved) and `walkSince` the stamp that walk started from.
 */
export const HttpCursor = z
  .object({
    since: z.string().min(1).optional(),
    walkSince: z.string().min(1).optional(),
    page: z
      .union([
        z.object({ cursor: z.string() }).strict(),
        z.object({ url: z.string() }).strict(),
        z.object({ offset: z.number() }).strict(),
        // Offset paging with an incremental filter pages by key: from this stamp, past `skip` records at it.
        z.object({ at: z.string(), skip: z.number().int().nonnegative() }).strict(),
      ])
      .optional(),
  })
  .strict();
export type HttpCursor = z.infer<typeof HttpCursor>;
