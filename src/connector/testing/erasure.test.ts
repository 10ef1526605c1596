/**
 * How the conformance suite follows an erasure a system carries out later: `pending` outcomes
 * are asked about through `eraseProgress` until done, and a connector that answers `pending`
 * without `eraseProgress`, or answers progress out of order, fails.
 */
import { describe, expect, it } from 'vitest';
import type { EraseOutcome, ErasureProgress } from '../define.js';
import { followErasure } from './erasure.js';

const signal = new AbortController().signal;
const fast = { signal, minSleepMs: 1, maxSleepMs: 5 };
const [a, b, c] = [{ externalId: 'a' }, { email: 'b@example.com' }, { email: 'nobody@example.com' }];
const pending = (ref: EraseOutcome['ref'], ticket: string): EraseOutcome => ({
  status: 'pending',
  ref,
  ticket,
  checkAfterMs: 1,
  progress: `erasure ${ticket} INITIALIZED`,
});

/** An `eraseProgress` that answers `pending` for each ticket `rounds` times, then `end(ticket)`. */
function progressAfter(rounds: number, end: (ticket: string) => ErasureProgress) {
  const asked: string[][] = [];
  return {
    asked,
    async eraseProgress(tickets: string[]): Promise<ErasureProgress[]> {
      asked.push(tickets);
      return tickets.map((ticket) =>
        asked.length <= rounds ? { ticket, status: 'pending', progress: `erasure ${ticket} RUNNING`, checkAfterMs: 1 } : end(ticket),
      );
    },
  };
}

describe('followErasure (conformance: erasures carried out later)', () => {
  it('returns outcomes without pending ones as they are, asking nothing', async () => {
    const outcomes: EraseOutcome[] = [
      { status: 'erased', ref: a },
      { status: 'not_found', ref: c },
    ];
    expect(await followErasure({}, outcomes, fast)).toEqual(outcomes);
  });

  it('follows pending tickets until done: their refs count as erased, one question per round for a shared ticket', async () => {
    const system = progressAfter(2, (ticket) => ({ ticket, status: 'done', progress: `erasure ${ticket} FINISHED` }));
    const outcomes = await followErasure(system, [pending(a, 't1'), pending(b, 't1'), { status: 'not_found', ref: c }], fast);
    expect(outcomes).toEqual([
      { status: 'erased', ref: a },
      { status: 'erased', ref: b },
      { status: 'not_found', ref: c },
    ]);
    expect(system.asked).toEqual([['t1'], ['t1'], ['t1']]);
  });

  it('reports a ticket the system failed as the failure of its refs', async () => {
    const system = progressAfter(0, (ticket) => ({ ticket, status: 'failed', reason: `erasure ${ticket} FAILED`, retryable: false }));
    expect(await followErasure(system, [pending(a, 't1')], fast)).toEqual([
      { status: 'failed', ref: a, reason: 'erasure t1 FAILED', retryable: false },
    ]);
  });

  it('fails a connector that answers pending without eraseProgress', async () => {
    await expect(followErasure({}, [pending(a, 't1')], fast)).rejects.toThrow(/no eraseProgress/);
  });

  it('fails a pending outcome without a ticket or progress text', async () => {
    const system = progressAfter(0, (ticket) => ({ ticket, status: 'done', progress: 'done' }));
    await expect(followErasure(system, [pending(a, '')], fast)).rejects.toThrow(/needs a ticket/);
    await expect(followErasure(system, [{ ...pending(a, 't1'), progress: '' } as EraseOutcome], fast)).rejects.toThrow(/progress text/);
  });

  it('fails progress answered out of order', async () => {
    const system = {
      async eraseProgress(tickets: string[]): Promise<ErasureProgress[]> {
        return [...tickets].reverse().map((ticket) => ({ ticket, status: 'done', progress: 'FINISHED' }));
      },
    };
    await expect(followErasure(system, [pending(a, 't1'), pending(b, 't2')], fast)).rejects.toThrow(/in order/);
  });

  it('gives up on a ticket still pending at the deadline', async () => {
    const system = progressAfter(Number.POSITIVE_INFINITY, (ticket) => ({ ticket, status: 'done', progress: 'FINISHED' }));
    await expect(followErasure(system, [pending(a, 't1')], { ...fast, timeoutMs: 30 })).rejects.toThrow(/still pending after 30 ms: t1/);
  });
});
