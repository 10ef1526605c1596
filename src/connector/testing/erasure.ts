/**
 * Following an erasure to its end, for the conformance suite (the connector test kit: tests
 * import it, production code never does). A system that erases later answers `pending` with a
 * ticket; the suite then asks `eraseProgress` (short sleeps, a deadline) until every ticket is
 * done, and checks the same final picture as for a system that erases at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConnectorInstance, EraseOutcome, ErasureProgress } from '../define.js';

/** An outcome once the system is done: a `pending` ref whose ticket is done counts as `erased`. */
export type FinalEraseOutcome = Exclude<EraseOutcome, { status: 'pending' }>;

export interface FollowOptions {
  signal: AbortSignal;
  /** Give up (throw) when a ticket is still pending after this long, ms (default 10 s). */
  timeoutMs?: number;
  /** The shortest and longest sleep between two questions, ms, whatever `checkAfterMs` says (default 10 and 250). */
  minSleepMs?: number;
  maxSleepMs?: number;
}

/**
 * The final outcome of each ref: `pending` outcomes are followed through `eraseProgress` until
 * their tickets are done (`erased`) or failed (`failed`, with the system's reason). Throws when
 * the connector answers `pending` without `eraseProgress`, when a pending outcome or a progress
 * answer breaks the contract (no ticket, no progress text, one answer per ticket in order), or
 * when a ticket is still pending at the deadline.
 */
export async function followErasure(
  instance: Pick<ConnectorInstance<unknown>, 'eraseProgress'>,
  outcomes: readonly EraseOutcome[],
  options: FollowOptions,
): Promise<FinalEraseOutcome[]> {
  const pending = outcomes.filter((o): o is Extract<EraseOutcome, { status: 'pending' }> => o.status === 'pending');
  if (pending.length === 0) return outcomes as FinalEraseOutcome[];
  const eraseProgress = instance.eraseProgress;
  if (typeof eraseProgress !== 'function') throw new Error('erase answered pending, but the connector has no eraseProgress');
  for (const o of pending) {
    if (typeof o.ticket !== 'string' || o.ticket === '') throw new Error('a pending erase outcome needs a ticket');
    if (typeof o.progress !== 'string' || o.progress === '') throw new Error(`pending erase outcome ${o.ticket} has no progress text`);
    if (!Number.isFinite(o.checkAfterMs) || o.checkAfterMs < 0)
      throw new Error(`pending erase outcome ${o.ticket} has no valid checkAfterMs`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const minSleepMs = options.minSleepMs ?? 10;
  const maxSleepMs = options.maxSleepMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  const final = new Map<string, ErasureProgress>();
  let open = [...new Set(pending.map((o) => o.ticket))];
  let waitMs = Math.min(...pending.map((o) => o.checkAfterMs));
  while (open.length > 0) {
    if (Date.now() > deadline) throw new Error(`erasure still pending after ${timeoutMs} ms: ${open.join(', ')}`);
    await sleep(Math.min(maxSleepMs, Math.max(minSleepMs, waitMs)), undefined, { signal: options.signal });
    const answers = await eraseProgress.call(instance, open, options.signal);
    if (answers.length !== open.length || answers.some((a, i) => a.ticket !== open[i]))
      throw new Error(`eraseProgress must answer one progress per ticket, in order: asked ${open.join(', ')}`);
    const still: Extract<ErasureProgress, { status: 'pending' }>[] = [];
    for (const a of answers) {
      if (a.status === 'pending') still.push(a);
      else final.set(a.ticket, a);
    }
    open = still.map((a) => a.ticket);
    waitMs = Math.min(...still.map((a) => a.checkAfterMs));
  }
  return outcomes.map((o): FinalEraseOutcome => {
    if (o.status !== 'pending') return o;
    const end = final.get(o.ticket);
    if (end?.status === 'failed') return { status: 'failed', ref: o.ref, reason: end.reason, retryable: end.retryable };
    return { status: 'erased', ref: o.ref };
  });
}
