/** The requester-verification repository (both dialects): one-time links of the public request page. */
import type {
  NewRequesterVerification,
  RequesterVerification,
  RequesterVerificationRepository,
  VerificationConsumption,
  VerificationKind,
} from '../contracts/verifications.js';
import type { RequesterVerificationsTable } from '../db-schema.js';
import { oneOf } from './db.js';
import type { StoreDb } from './db.js';

const KINDS: readonly VerificationKind[] = ['export', 'erase'];

function fromRow(row: RequesterVerificationsTable): RequesterVerification {
  return {
    id: row.id,
    kind: oneOf(row.kind, KINDS),
    locale: row.locale,
    sealedAddress: row.sealed_address,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    dsrId: row.dsr_id,
  };
}

export class KyselyVerifications implements RequesterVerificationRepository {
  readonly #store: StoreDb;

  constructor(store: StoreDb) {
    this.#store = store;
  }

  async createVerification(v: NewRequesterVerification): Promise<void> {
    await this.#store.write((trx) =>
      trx
        .insertInto('requester_verifications')
        .values({
          id: v.id,
          token_hash: v.tokenHash,
          address_hash: v.addressHash,
          client_hash: v.clientHash,
          kind: v.kind,
          locale: v.locale,
          sealed_address: v.sealedAddress,
          created_at: v.createdAt,
          expires_at: v.expiresAt,
          consumed_at: null,
          dsr_id: null,
        })
        .execute(),
    );
  }

  async countVerifications(filter: { addressHash: string; since: string } | { clientHash: string; since: string }): Promise<number> {
    let query = this.#store.db
      .selectFrom('requester_verifications')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where('created_at', '>=', filter.since);
    query =
      'addressHash' in filter ? query.where('address_hash', '=', filter.addressHash) : query.where('client_hash', '=', filter.clientHash);
    const row = await query.executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async findVerification(tokenHash: string): Promise<RequesterVerification | null> {
    const row = await this.#store.db
      .selectFrom('requester_verifications')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? fromRow(row) : null;
  }

  async getVerification(id: string): Promise<RequesterVerification | null> {
    const row = await this.#store.db.selectFrom('requester_verifications').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : null;
  }

  async consumeVerification(tokenHash: string, at: string): Promise<VerificationConsumption> {
    // One conditional UPDATE: of two confirmations at once, only one changes the row.
    const updated = await this.#store.write((trx) =>
      trx
        .updateTable('requester_verifications')
        .set({ consumed_at: at })
        .where('token_hash', '=', tokenHash)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', at)
        .returningAll()
        .executeTakeFirst(),
    );
    if (updated) return { status: 'consumed', verification: fromRow(updated) };
    const row = await this.findVerification(tokenHash);
    if (!row) return { status: 'unknown' };
    return { status: row.consumedAt !== null ? 'used' : 'expired' };
  }

  async attachVerificationDsr(id: string, dsrId: string): Promise<void> {
    await this.#store.write((trx) => trx.updateTable('requester_verifications').set({ dsr_id: dsrId }).where('id', '=', id).execute());
  }

  async deleteVerification(id: string): Promise<void> {
    await this.#store.write((trx) => trx.deleteFrom('requester_verifications').where('id', '=', id).execute());
  }

  async purgeVerifications(before: string, requestsBefore: string): Promise<number> {
    const result = await this.#store.write((trx) =>
      trx
        .deleteFrom('requester_verifications')
        .where((eb) =>
          eb.or([
            eb.and([eb('expires_at', '<', before), eb('dsr_id', 'is', null)]),
            eb.and([eb('dsr_id', 'is not', null), eb('consumed_at', '<', requestsBefore)]),
          ]),
        )
        .executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }
}
