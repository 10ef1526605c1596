/**
 * Erasure in Segment: a Public API regulation (`regulationType`, default SUPPRESS_WITH_DELETE)
 * of the person's user ids, one regulation for a whole batch of references (up to 5,000
 * subjects each), which Segment carries out over hours to days: the outcome is `pending` with
 * the regulation's id as the ticket, and `eraseProgress` asks its status every
 * `regulationPollMs` until FINISHED (done), or FAILED / PARTIAL_SUCCESS / INVALID /
 * NOT_SUPPORTED (failed, with that status in the reason).
 * https://docs.segmentapis.com/tag/Deletion-and-Suppression
 *
 * An e-mail reference is looked up through the Profile API (`email:` identifier) for the profile's
 * user ids; none there is `not_found`. A user id reference is regulated whether or not Unify has
 * a profile for it (Segment may hold its events anyway).
 */
import type { EraseOutcome, EraseRef, ErasureProgress } from '../../src/connector/define.js';
import { chunks } from '../../src/connector/kit/index.js';
import { MAX_SUBJECTS_PER_REGULATION, type SegmentApi } from './api.js';
import { userIdsOf } from './profiles.js';

/**
 * The user id and every other user id Segment's identity resolution merged into its profile
 * (Profile API `external_ids`), so none of them outlives the erasure; the user id alone without
 * the Profile API, or when Unify holds no profile for it (Segment may hold its events anyway).
 */
async function sameProfileUserIds(api: SegmentApi, userId: string, signal: AbortSignal): Promise<string[]> {
  return api.hasProfiles ? [...new Set([userId, ...(await userIdsOf(api, 'user_id', userId, signal))])] : [userId];
}

/** What a regulation's overall status means for the erasure. */
export function progressOf(ticket: string, status: string, pollMs: number): ErasureProgress {
  const progress = `regulation ${ticket} ${status}`;
  if (status === 'FINISHED') return { ticket, status: 'done', progress };
  if (status === 'INITIALIZED' || status === 'RUNNING') return { ticket, status: 'pending', progress, checkAfterMs: pollMs };
  // PARTIAL_SUCCESS: Segment's own stores are done but some destinations did not confirm; a
  // person (the streamStatus in Segment's app) must look, so it is not tried again blindly.
  return { ticket, status: 'failed', reason: `${progress}: see the regulation's streamStatus in Segment`, retryable: false };
}

export async function eraseUsers(api: SegmentApi, refs: readonly EraseRef[], pollMs: number, signal: AbortSignal): Promise<EraseOutcome[]> {
  if (!api.hasPublicApi)
    return refs.map((ref) => ({
      status: 'failed',
      ref,
      reason: 'erasure in Segment needs publicApiToken (a Public API token)',
      retryable: false,
    }));
  // Each reference's user ids; undefined: it cannot be looked up.
  const idsOf: (string[] | undefined)[] = [];
  for (const ref of refs) {
    if (ref.externalId !== undefined) idsOf.push(await sameProfileUserIds(api, ref.externalId, signal));
    else if (ref.email !== undefined && api.hasProfiles) idsOf.push(await userIdsOf(api, 'email', ref.email, signal));
    else idsOf.push(undefined);
  }
  const subjects = [...new Set(idsOf.flatMap((ids) => ids ?? []))];
  const ticketOf = new Map<string, string>();
  // When a later creation fails, the regulations made so far are kept (their ids are the
  // outcomes of the references they cover), so trying the rest again makes no second one.
  let unfinished: string | undefined;
  for (const chunk of chunks(subjects, MAX_SUBJECTS_PER_REGULATION)) {
    try {
      const ticket = await api.createRegulation(chunk, signal);
      for (const id of chunk) ticketOf.set(id, ticket);
    } catch (err) {
      if (ticketOf.size === 0) throw err;
      unfinished = err instanceof Error ? err.message : 'the regulation could not be created';
      break;
    }
  }
  return refs.map((ref, i): EraseOutcome => {
    const ids = idsOf[i];
    if (ids === undefined)
      return {
        status: 'failed',
        ref,
        reason: 'an e-mail address is looked up through the Profile API: set spaceId and profileToken',
        retryable: false,
      };
    if (ids.length === 0) return { status: 'not_found', ref };
    if (unfinished !== undefined && ids.some((id) => !ticketOf.has(id)))
      return { status: 'failed', ref, reason: `not regulated yet: ${unfinished.slice(0, 160)}`, retryable: true };
    const tickets = [...new Set(ids.map((id) => ticketOf.get(id)))].filter((t): t is string => t !== undefined);
    const ticket = tickets.join(',');
    return { status: 'pending', ref, ticket, checkAfterMs: pollMs, progress: `regulation ${ticket} INITIALIZED` };
  });
}

/** The status of each ticket (one regulation id, or several joined by `,` for a person in several). */
export async function regulationProgress(
  api: SegmentApi,
  tickets: readonly string[],
  pollMs: number,
  signal: AbortSignal,
): Promise<ErasureProgress[]> {
  const out: ErasureProgress[] = [];
  for (const ticket of tickets) {
    const parts: ErasureProgress[] = [];
    for (const id of ticket.split(',')) {
      const regulation = await api.regulation(id, signal);
      // Unknown to this workspace (its token or region changed): that erasure starts again.
      parts.push(
        regulation === undefined
          ? { ticket: id, status: 'failed', reason: `regulation ${id} not found in the workspace`, retryable: true }
          : progressOf(id, regulation.overallStatus, pollMs),
      );
    }
    const failed = parts.find((p) => p.status === 'failed');
    const pending = parts.find((p) => p.status === 'pending');
    out.push(
      failed
        ? { ...failed, ticket }
        : pending
          ? { ...pending, ticket }
          : { ticket, status: 'done', progress: parts.map((p) => (p.status === 'done' ? p.progress : '')).join('; ') },
    );
  }
  return out;
}
