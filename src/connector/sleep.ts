import { setTimeout as wait } from 'node:timers/promises';

/**
 * Waits `ms` (`node:timers/promises`); an abort rejects at once with the signal's reason (or an
 * `Error('aborted')`), not with the `AbortError` the timer throws, so callers see why they stopped.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
    throw err;
  }
}
