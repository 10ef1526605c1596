/** The shadows repository (both dialects): what each system holds per profile, and the push log. */
import { sql } from 'kysely';
import type { Json } from '../../profile/schema.js';
import { fieldTimes, mergeShadow, mergedShadow } from '../apply-patch.js';
import { decodeRecord, encodeJson } from '../codec.js';
import type { PushLogEntry, Shadow, ShadowRepository } from '../contracts/shadows.js';
import type { Database } from '../db-schema.js';
import { newId } from '../ids.js';
import { byAskedId, chunks } from './db.js';
import type { StoreDb } from './db.js';

export class KyselyShadows implements ShadowRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async getShadow(profileId: string, connector: string): Promise<Shadow | null> {
    return (await this.getShadows(connector, [profileId])).get(profileId) ?? null;
  }

  async getShadows(connector: string, profileIds: readonly string[]): Promise<Map<string, Shadow>> {
    const { db } = this.#store;
    const resolved = await this.#store.resolveIds(db, profileIds);
    const found = new Map<string, Shadow>();
    for (const chunk of chunks([...new Set(resolved.values())])) {
      const rows = await db.selectFrom('shadows').selectAll().where('connector', '=', connector).where('profile_id', 'in', chunk).execute();
      for (const row of rows) found.set(row.profile_id, toShadow(row));
    }
    return byAskedId(resolved, found);
  }

  async shadowsByConnector(connector: string, options: { limit?: number; after?: string } = {}): Promise<Shadow[]> {
    let query = this.#store.db.selectFrom('shadows').selectAll().where('connector', '=', connector);
    if (options.after !== undefined) query = query.where('profile_id', '>', options.after);
    const rows = await query
      .orderBy('profile_id')
      .limit(options.limit ?? 1000)
      .execute();
    return rows.map(toShadow);
  }

  async countKnownRecords(connector: string): Promise<number> {
    const row = await this.#store.db
      .selectFrom('shadows')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('connector', '=', connector)
      .where('external_id', 'is not', null)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async shadowsByProfile(profileId: string): Promise<Shadow[]> {
    const { db } = this.#store;
    const id = await this.#store.resolveId(db, profileId);
    const rows = await db.selectFrom('shadows').selectAll().where('profile_id', '=', id).orderBy('connector').execute();
    return rows.map(toShadow);
  }

  async updateShadow(
    profileId: string,
    connector: string,
    update: { externalId?: string | null; values: Record<string, Json>; forget?: readonly string[]; pushedAt?: string },
  ): Promise<void> {
    await this.#store.write(async (trx) =>
      mergeShadow(trx, this.#store.dialect, await this.#store.resolveId(trx, profileId), connector, update, new Date().toISOString()),
    );
  }

  async recordPushes(entries: readonly PushLogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const now = new Date().toISOString();
    const { dialect } = this.#store;
    await this.#store.write(async (trx) => {
      const resolved = await this.#store.resolveIds(
        trx,
        entries.map((entry) => entry.profileId),
      );
      // Read the batch's shadows at once (PostgreSQL: locked, as mergeShadow does one by one),
      // merge in memory, write them back with one upsert per chunk.
      const merged = new Map<string, Database['shadows']>();
      const byConnector = new Map<string, string[]>();
      for (const entry of entries) {
        const list = byConnector.get(entry.connector) ?? [];
        list.push(resolved.get(entry.profileId) ?? entry.profileId);
        byConnector.set(entry.connector, list);
      }
      for (const [connector, ids] of byConnector) {
        for (const chunk of chunks([...new Set(ids)])) {
          let select = trx.selectFrom('shadows').selectAll().where('connector', '=', connector).where('profile_id', 'in', chunk);
          if (dialect === 'postgres') select = select.forUpdate();
          for (const row of await select.execute()) merged.set(`${row.profile_id}\u0000${connector}`, row);
        }
      }
      const logged: Database['push_log'][] = [];
      const touched = new Set<string>();
      for (const entry of entries) {
        const id = resolved.get(entry.profileId) ?? entry.profileId;
        const key = `${id}\u0000${entry.connector}`;
        const update = {
          ...(entry.externalId !== null ? { externalId: entry.externalId } : {}),
          values: entry.values,
          pushedAt: entry.pushedAt,
        };
        merged.set(key, { profile_id: id, connector: entry.connector, ...mergedShadow(merged.get(key), update, now), updated_at: now });
        touched.add(key);
        logged.push({
          id: newId(),
          profile_id: id,
          connector: entry.connector,
          external_id: entry.externalId,
          values: encodeJson(entry.values),
          pushed_at: entry.pushedAt,
        });
      }
      const rows = [...touched].flatMap((key) => merged.get(key) ?? []);
      for (const chunk of chunks(rows, 100)) {
        await trx
          .insertInto('shadows')
          .values(chunk)
          .onConflict((oc) =>
            oc.columns(['profile_id', 'connector']).doUpdateSet((eb) => ({
              // A row that appeared after the read above (PostgreSQL: ingest's first shadow of a
              // record, committed meanwhile; nothing to lock when read) keeps its values: the
              // pushed ones are merged over it, as mergedShadow does. SQLite serialises writers.
              values:
                dialect === 'postgres'
                  ? sql<string>`(${sql.ref('shadows.values')}::jsonb || ${sql.ref('excluded.values')}::jsonb)::text`
                  : eb.ref('excluded.values'),
              values_at:
                dialect === 'postgres'
                  ? sql<string>`(coalesce(${sql.ref('shadows.values_at')}, '{}')::jsonb || ${sql.ref('excluded.values_at')}::jsonb)::text`
                  : eb.ref('excluded.values_at'),
              external_id: eb.fn.coalesce('excluded.external_id', 'shadows.external_id'),
              last_pushed_at: eb.ref('excluded.last_pushed_at'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
      for (const chunk of chunks(logged, 100)) await trx.insertInto('push_log').values(chunk).execute();
    });
  }

  async pushHistory(profileId: string): Promise<PushLogEntry[]> {
    const { db } = this.#store;
    const id = await this.#store.resolveId(db, profileId);
    const rows = await db.selectFrom('push_log').selectAll().where('profile_id', '=', id).orderBy('pushed_at').orderBy('id').execute();
    return rows.map((row) => ({
      profileId: row.profile_id,
      connector: row.connector,
      externalId: row.external_id,
      values: decodeRecord(row.values),
      pushedAt: row.pushed_at,
    }));
  }
}

function toShadow(row: Database['shadows']): Shadow {
  return {
    profileId: row.profile_id,
    connector: row.connector,
    externalId: row.external_id,
    values: decodeRecord(row.values),
    valuesAt: fieldTimes(row),
    lastPushedAt: row.last_pushed_at,
    updatedAt: row.updated_at,
  };
}
