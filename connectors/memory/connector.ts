/**
 * The `memory` connector: a `defineConnector` definition that talks to an in-memory system
 * (`system.ts`) looked up by name in the registry (`registry.ts`). It exists for the engine's
 * tests and benchmark, and is written like a real connector: the engine knows it only through
 * the connector contract.
 *
 * YAML:
 * ```yaml
 * connectors:
 *   crm-a:
 *     type: memory
 *     system: crm-a            # registry name
 *     webhookSecret: ${env:MEMORY_WEBHOOK_SECRET}
 *     lookBackMs: 1000         # incremental pulls re-read this far behind the cursor
 *     url: http://127.0.0.1:40123   # optional: a loopback bridge (serveMemorySystems) in another process
 * ```
 */
import { z } from 'zod';
import type {
  ConnectorInstance,
  EraseOutcome,
  ErasureProgress,
  ExternalRecord,
  FindKind,
  FoundRecord,
  PushOutcome,
  WebhookEvent,
} from '../../src/connector/define.js';
import { defineConnector } from '../../src/connector/define.js';
import { checkFailure, nonEmptyFields } from '../../src/connector/kit/index.js';
import { ConnectorConfigError, MalformedPayloadError, classifyHttpError } from '../../src/connector/errors.js';
import type { MappingEntryInput } from '../../src/connector/mapping-schema.js';
import { Json } from '../../src/profile/schema.js';
import { getMemorySystem } from './registry.js';
import { RemoteMemorySystem } from './remote.js';
import { SIGNATURE_HEADER, verifyMemoryWebhook } from './signature.js';
import type { MemoryRecord, MemorySystemApi } from './system.js';

export const MemoryConfig = z.object({
  /** Registry name of the system to talk to (also its name on a bridge). */
  system: z.string().min(1),
  /** Base URL of a loopback bridge (`serveMemorySystems`), for engines running in another process. */
  url: z.url().optional(),
  /** HMAC secret shared with the system for webhook signatures. */
  webhookSecret: z.string().min(1),
  /** How far behind the saved cursor an incremental pull starts, ms. */
  lookBackMs: z.number().int().nonnegative().default(0),
  /** Records per change-feed page. */
  pageSize: z.number().int().positive().max(1000).default(100),
  /** Largest accepted clock difference between the webhook signature timestamp and receipt, ms. */
  webhookToleranceMs: z
    .number()
    .int()
    .positive()
    .default(5 * 60_000),
  /**
   * The kinds of identity `find` searches by (`ConnectorInstance.findsBy`), for tests of a system
   * that cannot search by all three: `find` ignores the other kinds. Absent: every kind.
   */
  findsBy: z.array(z.enum(['email', 'phone', 'externalId'])).optional(),
});
export type MemoryConfig = z.infer<typeof MemoryConfig>;

/** The cursor: the highest modstamp ingested. */
export const MemoryCursor = z.object({ modstamp: z.number().int().nonnegative() });
export type MemoryCursor = z.infer<typeof MemoryCursor>;

/** Default mappings: e-mail identity, names, e-mail marketing consent as an opt-out flag, newsletter. */
export const memoryDefaultMappings: readonly MappingEntryInput[] = [
  { identity: 'email', external: 'email' },
  { field: 'firstName', external: 'first_name' },
  { field: 'lastName', external: 'last_name' },
  { consent: 'marketing.email', external: 'email_opt_out', transform: [{ type: 'invert' }] },
  { topic: 'newsletter', external: 'newsletter' },
];

const WireRecord = z.object({
  id: z.string().min(1),
  modstamp: z.number(),
  updatedAt: z.iso.datetime({ offset: false }),
  fields: z.record(z.string(), Json),
  version: z.number().int().positive().optional(),
});
const WirePayload = z.object({
  eventId: z.string().min(1),
  occurredAt: z.iso.datetime({ offset: false }),
  kind: z.enum(['changed', 'deleted']),
  records: z.array(WireRecord).optional(),
  ids: z.array(z.string().min(1)).optional(),
  fromApi: z.boolean().optional(),
});

function toExternal(record: MemoryRecord, echo?: boolean): ExternalRecord {
  return {
    externalId: record.id,
    at: new Date(record.updatedAt).toISOString(),
    fields: record.fields,
    ...(record.version === undefined ? {} : { version: record.version }),
    ...(echo === undefined ? {} : { echo }),
  };
}

/** Calls the system, turning its HTTP-like failures into connector errors. */
async function call<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  signal?.throwIfAborted();
  try {
    return await fn();
  } catch (err) {
    throw classifyHttpError(err);
  }
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

export default defineConnector<MemoryConfig, MemoryCursor>({
  type: 'memory',
  configSchema: MemoryConfig,
  cursorSchema: MemoryCursor,
  capabilities: { pull: true, push: true, webhooks: true, erase: true, export: true, find: true },
  limits: { requestsPerWindow: 100, windowMs: 10_000, maxBatch: 100, concurrency: 4 },
  defaultMappings: memoryDefaultMappings,
  secretKeys: ['webhookSecret'],
  sensitiveKeys: [SIGNATURE_HEADER],
  create(ctx): ConnectorInstance<MemoryCursor> {
    const config = MemoryConfig.parse(ctx.config);
    const found = config.url === undefined ? getMemorySystem(config.system) : new RemoteMemorySystem(config.url, config.system);
    if (!found) throw new ConnectorConfigError(`no in-memory system registered as "${config.system}"`);
    const api: MemorySystemApi = found;

    return {
      // No credentials: the system is reached when a read answers.
      async check(signal) {
        try {
          await call(signal, () => api.read([]));
          return [{ ok: true, detail: `the in-memory system ${config.system} answers` }];
        } catch (error) {
          return [
            checkFailure(error, 'a read', {
              system: `the in-memory system ${config.system}`,
              credentials: ['system'],
              credentialsFix: 'name a registered system',
              address: config.url === undefined ? ['system'] : ['url'],
            }),
          ];
        }
      },
      async *pull(cursor, signal) {
        let since = cursor ? Math.max(0, cursor.modstamp - config.lookBackMs) : 0;
        let high = cursor?.modstamp ?? 0;
        for (;;) {
          const page = await call(signal, () => api.changes({ since, limit: config.pageSize }));
          const last = page.records[page.records.length - 1];
          if (!last) return;
          for (const r of page.records) high = Math.max(high, r.modstamp);
          since = last.modstamp;
          yield { records: page.records.map((r) => toExternal(r)), cursor: { modstamp: high } };
          if (!page.hasMore) return;
        }
      },

      async push(batch, signal) {
        if (batch.length === 0) return [];
        const results = await call(signal, () =>
          api.upsert(batch.map((r) => (r.externalId === undefined ? { fields: r.fields } : { id: r.externalId, fields: r.fields }))),
        );
        return batch.map((record, i): PushOutcome => {
          const result = results[i];
          if (!result) return { status: 'retryable', profileId: record.profileId, reason: 'no result for this record' };
          if (result.status === 'ok') return { status: 'ok', profileId: record.profileId, externalId: result.id };
          return result.retryable
            ? { status: 'retryable', profileId: record.profileId, reason: `${result.code}: ${result.message}` }
            : { status: 'rejected', profileId: record.profileId, reason: `${result.code}: ${result.message}`, code: result.code };
        });
      },

      async read(externalIds, signal) {
        if (externalIds.length === 0) return [];
        const records = await call(signal, () => api.read(externalIds));
        return records.map((r) => toExternal(r));
      },

      async erase(refs, signal) {
        if (refs.length === 0) return [];
        const results = await call(signal, () =>
          api.erase(refs.map((ref) => (ref.externalId !== undefined ? { id: ref.externalId } : { email: ref.email ?? '' }))),
        );
        return refs.map((ref, i): EraseOutcome => {
          const result = results[i];
          if (!result) return { status: 'failed', ref, reason: 'no result for this ref', retryable: true };
          if (result.status === 'pending') {
            const { ticket, checkAfterMs } = result;
            return { status: 'pending', ref, ticket, checkAfterMs, progress: `erasure ${ticket} INITIALIZED` };
          }
          return result.status === 'erased' ? { status: 'erased', ref } : { status: 'not_found', ref };
        });
      },

      async eraseProgress(tickets, signal) {
        if (tickets.length === 0) return [];
        const states = await call(signal, () => api.erasures(tickets));
        return tickets.map((ticket, i): ErasureProgress => {
          const s = states[i];
          if (!s || s.state === 'UNKNOWN')
            return { ticket, status: 'failed', reason: `erasure ${ticket} unknown to the system`, retryable: true };
          if (s.state === 'FINISHED') return { ticket, status: 'done', progress: `erasure ${ticket} FINISHED` };
          if (s.state === 'FAILED')
            return {
              ticket,
              status: 'failed',
              reason: `erasure ${ticket} FAILED: ${s.reason ?? 'no reason given'}`,
              retryable: s.retryable ?? true,
            };
          return { ticket, status: 'pending', progress: `erasure ${ticket} ${s.state}`, checkAfterMs: s.checkAfterMs };
        });
      },

      async export(refs, signal) {
        if (refs.length === 0) return [];
        const found = await call(signal, () =>
          api.find(refs.map((ref) => (ref.externalId !== undefined ? { id: ref.externalId } : { email: ref.email ?? '' }))),
        );
        // The whole record, empty values left out (the memory system has no labels nor related records).
        return found
          .filter((r): r is MemoryRecord => r !== null)
          .map((r) => ({ externalId: r.id, at: new Date(r.updatedAt).toISOString(), fields: nonEmptyFields(r.fields) }));
      },

      async find(queries, signal) {
        if (queries.length === 0) return [];
        const by = new Set<FindKind>(config.findsBy ?? ['email', 'phone', 'externalId']);
        const hits = await call(signal, () =>
          api.search(
            queries.map((q) => ({
              emails: by.has('email') ? q.emails : [],
              phones: by.has('phone') ? q.phones : [],
              ids: by.has('externalId') ? q.externalIds : [],
            })),
          ),
        );
        return queries.map((_, i) =>
          (hits[i] ?? []).map((hit): FoundRecord => ({
            externalId: hit.id,
            matchedBy: hit.matchedBy.map((m) => (m === 'id' ? 'externalId' : m)),
          })),
        );
      },

      ...(config.findsBy ? { findsBy: config.findsBy } : {}),

      verify(raw) {
        return verifyMemoryWebhook(
          config.webhookSecret,
          headerOf(raw.headers, SIGNATURE_HEADER),
          raw.body,
          Date.parse(raw.receivedAt),
          config.webhookToleranceMs,
        );
      },

      parse(raw): WebhookEvent[] {
        let json: unknown;
        try {
          json = JSON.parse(raw.body.toString('utf8'));
        } catch (err) {
          throw new MalformedPayloadError('webhook body is not JSON', { cause: err });
        }
        const parsed = WirePayload.safeParse(json);
        if (!parsed.success)
          throw new MalformedPayloadError(`webhook body has an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`);
        const p = parsed.data;
        const at = new Date(p.occurredAt).toISOString();
        if (p.kind === 'deleted') return [{ kind: 'deleted', eventId: p.eventId, externalIds: p.ids ?? [], at }];
        return [{ kind: 'records', eventId: p.eventId, records: (p.records ?? []).map((r) => toExternal(r, p.fromApi)) }];
      },
    };
  },
});
