/**
 * GDPR erasure in HubSpot: one `gdpr-delete` per reference (HubSpot has no batch GDPR delete),
 * after one batch read that tells "erased" from "not found".
 *
 * A rate limit is not a failure of the person's erasure: a `RateLimitedError` (a 429 of either
 * policy, a DAILY block until the reset, or the pacer refusing a long wait) ends the call and
 * is thrown, so the engine parks the erase queue without spending an attempt, as it does for
 * push. The references already erased in the interrupted call are remembered (as hashes, for
 * a short while) and answered from memory when the engine sends them again, so their outcome
 * stays `erased` and they cost no second call.
 */
import { createHash } from 'node:crypto';
import type { EraseOutcome, EraseRef } from '../../src/connector/define.js';
import { isRetryable, RateLimitedError, RejectedError } from '../../src/connector/errors.js';
import { redactContacts } from '../../src/connector/kit/index.js';
import type { HubSpotApi } from './api.js';
import type { HubSpotReader } from './read.js';

/** How long an interrupted call's outcomes are kept beyond the rate-limit wait. */
const REMEMBER_BEYOND_WAIT_MS = 5 * 60_000;
/** At most this many remembered outcomes (the oldest go first). */
const MAX_REMEMBERED = 10_000;

type Done = Extract<EraseOutcome, { status: 'erased' | 'not_found' }>['status'];

const keyOf = (ref: EraseRef): string =>
  createHash('sha256')
    .update(`${ref.externalId ?? ''}\u0000${ref.email?.trim().toLowerCase() ?? ''}`)
    .digest('hex');

export class HubSpotEraser {
  /** Hash of a reference -> what an interrupted call did with it, until `until`. */
  private readonly interrupted = new Map<string, { status: Done; until: number }>();

  constructor(
    private readonly api: HubSpotApi,
    private readonly reader: HubSpotReader,
    private readonly now: () => number,
  ) {}

  /** One outcome per reference, in order. Throws `RateLimitedError` when a limit interrupts the call. */
  async erase(refs: readonly EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]> {
    const now = this.now();
    for (const [key, entry] of this.interrupted) if (entry.until <= now) this.interrupted.delete(key);
    const out: (EraseOutcome | undefined)[] = refs.map((ref) => {
      const remembered = this.interrupted.get(keyOf(ref));
      return remembered ? { status: remembered.status, ref } : undefined;
    });
    const todo = refs.flatMap((ref, i) => (out[i] === undefined ? [{ ref, i }] : []));

    // Which addresses have a contact, to tell "erased" from "not found" (one call for all).
    let known = new Set<string>();
    const emails = todo.flatMap(({ ref }) => (ref.email ? [ref.email] : []));
    if (emails.length > 0) {
      try {
        const { found } = await this.reader.readContacts(emails, signal, 'email');
        known = new Set(
          found
            .flatMap((c) => [c.properties.email ?? '', ...(c.properties.hs_additional_emails ?? '').split(';')])
            .map((e) => e.toLowerCase()),
        );
      } catch (err) {
        if (err instanceof RateLimitedError || !isRetryable(err)) throw err;
      }
    }
    const doneNow: { ref: EraseRef; status: Done }[] = [];
    for (const { ref, i } of todo) {
      try {
        const outcome = await this.eraseOne(ref, known, signal);
        out[i] = outcome;
        if (outcome.status === 'erased' || outcome.status === 'not_found') doneNow.push({ ref, status: outcome.status });
      } catch (err) {
        if (err instanceof RateLimitedError) {
          this.remember(doneNow, err.retryAfterMs);
          throw err;
        }
        const reason = redactContacts(err instanceof Error ? err.message : String(err)).slice(0, 300);
        out[i] = { status: 'failed', ref, reason, retryable: isRetryable(err) };
      }
    }
    // Answered: what was remembered for these references has served.
    for (const ref of refs) this.interrupted.delete(keyOf(ref));
    return out.map((o, i) => o ?? { status: 'failed', ref: refs[i] ?? {}, reason: 'no outcome', retryable: true });
  }

  private remember(done: readonly { ref: EraseRef; status: Done }[], waitMs: number): void {
    const until = this.now() + waitMs + REMEMBER_BEYOND_WAIT_MS;
    for (const { ref, status } of done) {
      const key = keyOf(ref);
      this.interrupted.delete(key);
      this.interrupted.set(key, { status, until });
    }
    while (this.interrupted.size > MAX_REMEMBERED) {
      const oldest = this.interrupted.keys().next();
      if (oldest.done) break;
      this.interrupted.delete(oldest.value);
    }
  }

  private async eraseOne(ref: EraseRef, known: ReadonlySet<string>, signal: AbortSignal): Promise<EraseOutcome> {
    if (ref.externalId) {
      try {
        await this.gdprDelete(ref.externalId, undefined, signal);
        return { status: 'erased', ref };
      } catch (err) {
        if (!(err instanceof RejectedError && err.status === 404)) throw err;
        if (!ref.email) return { status: 'not_found', ref };
      }
    }
    if (!ref.email) return { status: 'failed', ref, reason: 'neither an external id nor an e-mail to erase by', retryable: false };
    // Deleting an address no contact has still blocklists it in HubSpot, which an erasure wants.
    await this.gdprDelete(ref.email, 'email', signal);
    return { status: known.has(ref.email.trim().toLowerCase()) ? 'erased' : 'not_found', ref };
  }

  /** https://developers.hubspot.com/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-gdpr-delete */
  private async gdprDelete(objectId: string, idProperty: 'email' | undefined, signal: AbortSignal): Promise<void> {
    await this.api.call('standard', signal, () =>
      this.api.client.crm.contacts.basicApi.purgeWithHttpInfo({ objectId, ...(idProperty ? { idProperty } : {}) }),
    );
  }
}
