/**
 * Data-subject rights in Mailchimp. Erasure is `delete-permanent` (the member is gone for good,
 * and Mailchimp refuses any later add of the address by API: "Forgotten Email Not Subscribed";
 * the hub keeps its own tombstone as well); export is in `export.ts`. A reference is the contact_id when the hub knows it, else the e-mail (its hash).
 * https://mailchimp.com/developer/marketing/api/list-members/delete-list-member/
 */
import type { EraseOutcome, EraseRef } from '../../src/connector/define.js';
import { isRetryable, RateLimitedError, AuthError } from '../../src/connector/errors.js';
import { redactContacts } from '../../src/connector/kit/index.js';
import { subscriberHash, type MailchimpApi } from './api.js';

/** The member keys a reference may be found under: its contact_id, then its address's hash. */
function keysOf(ref: EraseRef): string[] {
  return [...(ref.externalId ? [ref.externalId] : []), ...(ref.email ? [subscriberHash(ref.email)] : [])];
}

/** One outcome per reference, in order. A rate limit or an auth failure ends the call (the engine parks or stops). */
export async function eraseMembers(api: MailchimpApi, refs: readonly EraseRef[], signal: AbortSignal): Promise<EraseOutcome[]> {
  return Promise.all(
    refs.map(async (ref): Promise<EraseOutcome> => {
      const keys = keysOf(ref);
      if (keys.length === 0) return { status: 'failed', ref, reason: 'neither an external id nor an e-mail to erase by', retryable: false };
      try {
        for (const key of keys) {
          const res = await api.request(
            'POST',
            `/lists/${encodeURIComponent(api.config.listId)}/members/${encodeURIComponent(key)}/actions/delete-permanent`,
            { signal, accept: [404], idempotent: true },
          );
          if (res.status !== 404) return { status: 'erased', ref };
        }
        return { status: 'not_found', ref };
      } catch (err) {
        if (err instanceof RateLimitedError || err instanceof AuthError) throw err;
        const reason = redactContacts(err instanceof Error ? err.message : String(err)).slice(0, 300);
        return { status: 'failed', ref, reason, retryable: isRetryable(err) };
      }
    }),
  );
}
