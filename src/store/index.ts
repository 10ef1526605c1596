/**
 * The durable store: `openStore({ url, ... })` returns a `Store` over SQLite
 * (`sqlite:./data/concord.db`, `sqlite::memory:`) or PostgreSQL (`postgres://...`).
 */
import { createKysely } from './dialect.js';
import { KyselyStore } from './kysely-store.js';
import { parseStoreUrl } from './url.js';
import type { Store, StoreOptions } from './types.js';
import { silentLogger } from '../log/logger.js';

export type * from './types.js';
export { StoreError, WriteConflictError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { normalizeIdentity, normalizeIdentities, keyedIdentityHash, identityKey } from './identity.js';
export { parseStoreUrl } from './url.js';
export { MIGRATIONS } from './migrations.js';

/** Opens the store and, unless `autoMigrate` is false, applies pending migrations. */
export async function openStore(options: StoreOptions): Promise<Store> {
  const location = parseStoreUrl(options.url);
  const logger = options.logger ?? silentLogger();
  const db = createKysely(location, {
    busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
    poolSize: options.poolSize ?? 10,
    logger,
  });
  const store = new KyselyStore(db, {
    dialect: location.dialect,
    policy: options.policy,
    outboxTargets: options.outboxTargets,
    hashKey: options.hashKey,
    defaultPhoneCountry: options.defaultPhoneCountry,
    faultInjection: options.faultInjection,
    logger,
    retryAttempts: 50,
    ...(location.dialect === 'sqlite' ? { busyRetry: { budgetMs: options.busyTimeoutMs ?? 10_000, maxDelayMs: 10 } } : {}),
  });
  if (options.autoMigrate ?? true) {
    try {
      await store.migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
export { databaseStatus, type DatabaseStatus } from './status.js';
