/**
 * The connector benchmarks' way of pushing: the batches through an instance's `push`,
 * `concurrency` at once, each with its own abort signal (as the engine runs them, one job each).
 */
import type { ConnectorInstance, PushOutcome, PushRecord } from '../../src/connector/define.js';

/** The outcomes of every batch, in input order. */
export async function pushConcurrently(
  instance: Pick<ConnectorInstance<unknown>, 'push'>,
  batches: readonly PushRecord[][],
  concurrency: number,
): Promise<PushOutcome[]> {
  const results: PushOutcome[][] = new Array<PushOutcome[]>(batches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let b = next++; b < batches.length; b = next++)
      results[b] = (await instance.push?.(batches[b] ?? [], new AbortController().signal)) ?? [];
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results.flat();
}
