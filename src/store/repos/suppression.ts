/** The suppression repository (both dialects): keyed hashes of erased people's identities. */
import type { Identity } from '../../profile/schema.js';
import { suppressedAmong } from '../apply-patch.js';
import type { SuppressionRepository } from '../contracts/suppression.js';
import { keyedIdentityHash, normalizeIdentity } from '../identity.js';
import { chunks } from './db.js';
import type { StoreDb } from './db.js';

export class KyselySuppression implements SuppressionRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  hashIdentity(identity: Identity): string {
    const { config } = this.#store;
    const normalized = normalizeIdentity(identity, { defaultPhoneCountry: config.defaultPhoneCountry });
    return keyedIdentityHash(normalized.ok ? normalized.identity : identity, config.hashKey);
  }

  async suppress(hashes: readonly string[], reason: string): Promise<void> {
    if (hashes.length === 0) return;
    const now = new Date().toISOString();
    await this.#store.write(async (trx) => {
      for (const chunk of chunks([...new Set(hashes)])) {
        await trx
          .insertInto('suppression')
          .values(chunk.map((hash) => ({ hash, reason, created_at: now })))
          .onConflict((oc) => oc.column('hash').doNothing())
          .execute();
      }
    });
  }

  async isSuppressed(hashes: readonly string[]): Promise<boolean> {
    return (await suppressedAmong(this.#store.db, hashes)).size > 0;
  }

  suppressedAmong(hashes: readonly string[]): Promise<Set<string>> {
    return suppressedAmong(this.#store.db, hashes);
  }
}
