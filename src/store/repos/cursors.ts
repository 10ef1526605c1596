/** The cursors repository (both dialects): per-connector pull cursors. */
import { Json } from '../../profile/schema.js';
import { decodeJson, encodeJson } from '../codec.js';
import type { CursorRepository } from '../contracts/cursors.js';
import type { StoreDb } from './db.js';

export class KyselyCursors implements CursorRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async getCursor(connector: string): Promise<Json | null> {
    const row = await this.#store.db.selectFrom('cursors').select('value').where('connector', '=', connector).executeTakeFirst();
    return row ? decodeJson(row.value, Json) : null;
  }

  async setCursor(connector: string, cursor: Json): Promise<void> {
    const now = new Date().toISOString();
    const value = encodeJson(cursor);
    await this.#store.write((trx) =>
      trx
        .insertInto('cursors')
        .values({ connector, value, updated_at: now })
        .onConflict((oc) => oc.column('connector').doUpdateSet({ value, updated_at: now }))
        .execute(),
    );
  }
}
