/** The outbound webhooks repository (both dialects): messages, claims under a lease, outcomes, endpoint state. */
import { createHash, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_ENDPOINT_STATES } from '../contracts/webhooks-out.js';
import type {
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  RecordedWebhookAttempts,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpointRecord,
  WebhookEndpointReport,
  WebhookEndpointState,
  WebhooksOutRepository,
} from '../contracts/webhooks-out.js';
import type { Database, WebhookDeliveriesTable, WebhookEndpointsTable } from '../db-schema.js';
import { chunks, oneOf } from './db.js';
import type { StoreDb } from './db.js';

export class KyselyWebhooksOut implements WebhooksOutRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async registerWebhookEndpoint(endpoint: string, url: string): Promise<WebhookEndpointRecord> {
    // Only a digest: a receiver's URL may carry a token.
    const digest = createHash('sha256').update(url).digest('hex');
    return this.#store.write(async (trx) => {
      const now = new Date().toISOString();
      await trx
        .insertInto('webhook_endpoints')
        .values({ endpoint, url_sha256: digest, state: 'enabled', disabled_at: null, reason: null, last_success_at: null, updated_at: now })
        .onConflict((oc) => oc.column('endpoint').doNothing())
        .execute();
      const row = await trx.selectFrom('webhook_endpoints').selectAll().where('endpoint', '=', endpoint).executeTakeFirstOrThrow();
      if (row.url_sha256 === digest) return endpointRecord(row);
      // A 410 or a failing receiver at the old URL says nothing about the new one.
      const changed = { url_sha256: digest, state: 'enabled', disabled_at: null, reason: null, updated_at: now };
      await trx.updateTable('webhook_endpoints').set(changed).where('endpoint', '=', endpoint).execute();
      return endpointRecord({ ...row, ...changed });
    });
  }

  async enqueueWebhooks(endpoint: string, messages: readonly NewWebhookDelivery[]): Promise<number> {
    if (messages.length === 0) return 0;
    return this.#store.write(async (trx) => {
      const now = new Date().toISOString();
      let added = 0;
      for (const chunk of chunks(messages, 200)) {
        const result = await trx
          .insertInto('webhook_deliveries')
          .values(
            chunk.map((m) => ({
              endpoint,
              message_id: m.messageId,
              type: m.type,
              body: m.body,
              status: 'pending',
              attempts: 0,
              next_attempt_at: now,
              claim_id: null,
              last_status: null,
              last_error: null,
              created_at: now,
              delivered_at: null,
            })),
          )
          .onConflict((oc) => oc.columns(['endpoint', 'message_id']).doNothing())
          .executeTakeFirst();
        added += Number(result.numInsertedOrUpdatedRows ?? 0);
      }
      return added;
    });
  }

  async webhookStatuses(
    endpoint: string,
    messageIds: readonly string[],
  ): Promise<{ state: WebhookEndpointState | null; statuses: (WebhookDeliveryStatus | null)[] }> {
    const db = this.#store.db;
    const endpointRow = await db.selectFrom('webhook_endpoints').select('state').where('endpoint', '=', endpoint).executeTakeFirst();
    const found = new Map<string, WebhookDeliveryStatus>();
    for (const chunk of chunks([...new Set(messageIds)])) {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .select(['message_id', 'status'])
        .where('endpoint', '=', endpoint)
        .where('message_id', 'in', chunk)
        .execute();
      for (const row of rows) found.set(row.message_id, oneOf(row.status, WEBHOOK_DELIVERY_STATUSES));
    }
    return {
      state: endpointRow ? oneOf(endpointRow.state, WEBHOOK_ENDPOINT_STATES) : null,
      statuses: messageIds.map((id) => found.get(id) ?? null),
    };
  }

  async claimWebhookDeliveries(endpoint: string, limit: number, leaseMs: number): Promise<ClaimedWebhookDelivery[]> {
    if (limit <= 0) return [];
    // A read first: an idle endpoint never takes SQLite's write lock.
    const due = await this.#store.db
      .selectFrom('webhook_deliveries')
      .select('message_id')
      .where('endpoint', '=', endpoint)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', new Date().toISOString())
      .limit(1)
      .executeTakeFirst();
    if (!due) return [];
    return this.#store.write(async (trx) => {
      const state = await trx.selectFrom('webhook_endpoints').select('state').where('endpoint', '=', endpoint).executeTakeFirst();
      if (state?.state !== 'enabled') return [];
      const now = new Date();
      let query = trx
        .selectFrom('webhook_deliveries')
        .select(['message_id', 'body', 'attempts', 'created_at'])
        .where('endpoint', '=', endpoint)
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now.toISOString())
        .orderBy('next_attempt_at')
        .orderBy('message_id')
        .limit(limit);
      // Several workers: each skips the rows another is claiming right now.
      if (this.#store.dialect === 'postgres') query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      const claimId = randomUUID();
      const leasedUntil = new Date(now.getTime() + leaseMs).toISOString();
      for (const chunk of chunks(rows.map((row) => row.message_id))) {
        await trx
          .updateTable('webhook_deliveries')
          .set({ claim_id: claimId, next_attempt_at: leasedUntil })
          .where('endpoint', '=', endpoint)
          .where('message_id', 'in', chunk)
          .execute();
      }
      return rows.map((row) => ({
        endpoint,
        messageId: row.message_id,
        body: row.body,
        attempts: row.attempts,
        createdAt: row.created_at,
        claimId,
      }));
    });
  }

  async recordWebhookAttempts(attempts: readonly WebhookAttempt[]): Promise<RecordedWebhookAttempts> {
    if (attempts.length === 0) return { delivered: [], dead: [], disabled: [] };
    return this.#store.write(async (trx) => {
      const now = new Date().toISOString();
      const out: RecordedWebhookAttempts = { delivered: [], dead: [], disabled: [] };
      // Successes first, one statement per claim and status: a dead letter in the same batch
      // then sees the endpoint's latest success.
      const delivered = new Map<string, { endpoint: string; claimId: string; status: number; messageIds: string[] }>();
      for (const attempt of attempts) {
        if (attempt.outcome.kind !== 'delivered') continue;
        const key = JSON.stringify([attempt.endpoint, attempt.claimId, attempt.outcome.status]);
        const group = delivered.get(key) ?? {
          endpoint: attempt.endpoint,
          claimId: attempt.claimId,
          status: attempt.outcome.status,
          messageIds: [],
        };
        group.messageIds.push(attempt.messageId);
        delivered.set(key, group);
      }
      const succeeded = new Set<string>();
      for (const group of delivered.values()) {
        for (const chunk of chunks(group.messageIds)) {
          const rows = await trx
            .updateTable('webhook_deliveries')
            .set((eb) => ({
              status: 'delivered',
              attempts: eb('attempts', '+', 1),
              last_status: group.status,
              last_error: null,
              delivered_at: now,
              claim_id: null,
            }))
            .where('endpoint', '=', group.endpoint)
            .where('claim_id', '=', group.claimId)
            .where('status', '=', 'pending')
            .where('message_id', 'in', chunk)
            .returning(['message_id', 'created_at'])
            .execute();
          for (const row of rows) out.delivered.push({ endpoint: group.endpoint, messageId: row.message_id, createdAt: row.created_at });
          if (rows.length > 0) succeeded.add(group.endpoint);
        }
      }
      for (const endpoint of succeeded)
        await trx.updateTable('webhook_endpoints').set({ last_success_at: now }).where('endpoint', '=', endpoint).execute();
      // Dead letters last, after the retries and 410s.
      const failures = attempts.filter((a) => a.outcome.kind !== 'delivered').sort((a, b) => rank(a) - rank(b));
      for (const attempt of failures) {
        const { outcome } = attempt;
        if (outcome.kind === 'delivered') continue;
        if (outcome.kind === 'retry') {
          await claimed(trx, attempt)
            .set((eb) => ({
              attempts: eb('attempts', '+', 1),
              last_status: outcome.status,
              last_error: outcome.error,
              next_attempt_at: outcome.nextAttemptAt,
              claim_id: null,
            }))
            .execute();
        } else if (outcome.kind === 'gone') {
          const row = await claimed(trx, attempt)
            .set((eb) => ({
              attempts: eb('attempts', '+', 1),
              last_status: 410,
              last_error: 'gone: the receiver asked for no more messages (HTTP 410)',
              next_attempt_at: now,
              claim_id: null,
            }))
            .returning('message_id')
            .executeTakeFirst();
          if (row && (await disable(trx, attempt, 'disabled_gone', 'the receiver answered 410 Gone', now)))
            out.disabled.push({ endpoint: attempt.endpoint, state: 'disabled_gone' });
        } else {
          const row = await claimed(trx, attempt)
            .set((eb) => ({
              status: 'dead',
              attempts: eb('attempts', '+', 1),
              last_status: outcome.status,
              last_error: outcome.error,
              claim_id: null,
            }))
            .returning('created_at')
            .executeTakeFirst();
          if (!row) continue;
          out.dead.push({ endpoint: attempt.endpoint, messageId: attempt.messageId });
          // Nothing got through since this message came: the receiver failed for a whole schedule.
          const endpoint = await trx
            .selectFrom('webhook_endpoints')
            .select('last_success_at')
            .where('endpoint', '=', attempt.endpoint)
            .executeTakeFirst();
          const lastSuccess = endpoint?.last_success_at ?? null;
          if (
            (lastSuccess === null || lastSuccess < row.created_at) &&
            (await disable(trx, attempt, 'disabled_exhausted', `every attempt of a message failed (${outcome.error})`, now))
          )
            out.disabled.push({ endpoint: attempt.endpoint, state: 'disabled_exhausted' });
        }
      }
      return out;
    });
  }

  async releaseWebhookClaims(endpoint: string, claims: readonly { messageId: string; claimId: string }[]): Promise<void> {
    if (claims.length === 0) return;
    await this.#store.write(async (trx) => {
      const now = new Date().toISOString();
      for (const [claimId, messageIds] of byClaim(claims)) {
        for (const chunk of chunks(messageIds)) {
          await trx
            .updateTable('webhook_deliveries')
            .set({ next_attempt_at: now, claim_id: null })
            .where('endpoint', '=', endpoint)
            .where('claim_id', '=', claimId)
            .where('status', '=', 'pending')
            .where('message_id', 'in', chunk)
            .execute();
        }
      }
    });
  }

  async webhookEndpoint(endpoint: string): Promise<WebhookEndpointReport | null> {
    const db = this.#store.db;
    const row = await db.selectFrom('webhook_endpoints').selectAll().where('endpoint', '=', endpoint).executeTakeFirst();
    if (!row) return null;
    const counts: Record<WebhookDeliveryStatus, number> = { pending: 0, delivered: 0, dead: 0 };
    const grouped = await db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['status', eb.fn.countAll<number | string | bigint>().as('n')])
      .where('endpoint', '=', endpoint)
      .groupBy('status')
      .execute();
    for (const g of grouped) counts[oneOf(g.status, WEBHOOK_DELIVERY_STATUSES)] = Number(g.n);
    return { ...endpointRecord(row), counts };
  }

  async pendingWebhookCounts(): Promise<Map<string, number>> {
    const rows = await this.#store.db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['endpoint', eb.fn.countAll<number | string | bigint>().as('n')])
      .where('status', '=', 'pending')
      .groupBy('endpoint')
      .execute();
    return new Map(rows.map((row) => [row.endpoint, Number(row.n)]));
  }

  async webhookDeadLetters(endpoint: string, options: { limit?: number } = {}): Promise<WebhookDelivery[]> {
    const rows = await this.#store.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('endpoint', '=', endpoint)
      .where('status', '=', 'dead')
      .orderBy('created_at')
      .orderBy('message_id')
      .limit(options.limit ?? 100)
      .execute();
    return rows.map(deliveryOf);
  }

  async redeliverWebhooks(endpoint: string, messageIds?: readonly string[]): Promise<number> {
    return this.#store.write(async (trx) => {
      const now = new Date().toISOString();
      const revive = () =>
        trx
          .updateTable('webhook_deliveries')
          .set({ status: 'pending', attempts: 0, next_attempt_at: now, claim_id: null })
          .where('endpoint', '=', endpoint)
          .where('status', '=', 'dead');
      if (messageIds === undefined) return Number((await revive().executeTakeFirst()).numUpdatedRows);
      let revived = 0;
      for (const chunk of chunks([...new Set(messageIds)]))
        revived += Number((await revive().where('message_id', 'in', chunk).executeTakeFirst()).numUpdatedRows);
      return revived;
    });
  }

  async enableWebhookEndpoint(endpoint: string): Promise<WebhookEndpointState | null> {
    return this.#store.write(async (trx) => {
      const row = await trx.selectFrom('webhook_endpoints').select('state').where('endpoint', '=', endpoint).executeTakeFirst();
      if (!row) return null;
      const now = new Date().toISOString();
      await trx
        .updateTable('webhook_endpoints')
        .set({ state: 'enabled', disabled_at: null, reason: null, updated_at: now })
        .where('endpoint', '=', endpoint)
        .execute();
      // What waited while the endpoint was off goes now, not at its next schedule step.
      await trx
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: now })
        .where('endpoint', '=', endpoint)
        .where('status', '=', 'pending')
        .where('claim_id', 'is', null)
        .execute();
      return oneOf(row.state, WEBHOOK_ENDPOINT_STATES);
    });
  }

  async purgeDeliveredWebhooks(before: string): Promise<number> {
    return this.#store.write(async (trx) => {
      const result = await trx
        .deleteFrom('webhook_deliveries')
        .where('status', '=', 'delivered')
        .where('delivered_at', '<', before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}

/** The message ids of `claims` per claim. */
function byClaim(claims: readonly { messageId: string; claimId: string }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const claim of claims) out.set(claim.claimId, [...(out.get(claim.claimId) ?? []), claim.messageId]);
  return out;
}

/** Retries and 410s before dead letters. */
function rank(attempt: WebhookAttempt): number {
  return attempt.outcome.kind === 'dead' ? 1 : 0;
}

/** An update of the attempt's row, only while its claim still holds it. */
function claimed(trx: Transaction<Database>, attempt: WebhookAttempt) {
  return trx
    .updateTable('webhook_deliveries')
    .where('endpoint', '=', attempt.endpoint)
    .where('message_id', '=', attempt.messageId)
    .where('claim_id', '=', attempt.claimId)
    .where('status', '=', 'pending');
}

/** Disables the attempt's endpoint if it is enabled and was not changed since the attempt began; true when this call did. */
async function disable(
  trx: Transaction<Database>,
  attempt: WebhookAttempt,
  state: Exclude<WebhookEndpointState, 'enabled'>,
  reason: string,
  now: string,
): Promise<boolean> {
  const result = await trx
    .updateTable('webhook_endpoints')
    .set({ state, disabled_at: now, reason, updated_at: now })
    .where('endpoint', '=', attempt.endpoint)
    .where('state', '=', 'enabled')
    .where('updated_at', '<=', attempt.startedAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

function endpointRecord(row: WebhookEndpointsTable): WebhookEndpointRecord {
  return {
    endpoint: row.endpoint,
    urlSha256: row.url_sha256,
    state: oneOf(row.state, WEBHOOK_ENDPOINT_STATES),
    disabledAt: row.disabled_at,
    reason: row.reason,
    lastSuccessAt: row.last_success_at,
    updatedAt: row.updated_at,
  };
}

function deliveryOf(row: WebhookDeliveriesTable): WebhookDelivery {
  return {
    endpoint: row.endpoint,
    messageId: row.message_id,
    type: row.type,
    status: oneOf(row.status, WEBHOOK_DELIVERY_STATUSES),
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}
