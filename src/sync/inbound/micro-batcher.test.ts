import { describe, expect, it } from 'vitest';
import { MicroBatcher } from './micro-batcher.js';

describe('MicroBatcher', () => {
  it('groups calls made together into one batch and answers each in order', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>(
      async (xs) => {
        calls.push(xs);
        return xs.map((x) => x * 10);
      },
      { maxSize: 100, maxWaitMs: 5 },
    );
    const out = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    expect(out).toEqual([10, 20, 30]);
    expect(calls).toEqual([[1, 2, 3]]);
  });

  it('flushes at maxSize without waiting', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>(
      async (xs) => {
        calls.push(xs);
        return xs;
      },
      { maxSize: 2, maxWaitMs: 60_000 },
    );
    await Promise.all([1, 2, 3, 4].map((x) => b.submit(x)));
    expect(calls).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('rejects every item of a failed batch', async () => {
    const b = new MicroBatcher<number, number>(
      async () => {
        throw new Error('db down');
      },
      { maxSize: 10, maxWaitMs: 1 },
    );
    const results = await Promise.allSettled([b.submit(1), b.submit(2)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('rejects when the batch returns the wrong number of results', async () => {
    const b = new MicroBatcher<number, number>(async () => [1], { maxSize: 10, maxWaitMs: 1 });
    await expect(Promise.all([b.submit(1), b.submit(2)])).rejects.toThrow(/2 items/);
  });
});

/** A batcher whose batches take 20 ms each, recording the batches and how many ran at once. */
function slowBatcher(options: { maxSize: number; maxWaitMs: number; concurrency?: number }) {
  const seen = { calls: [] as number[][], maxActive: 0 };
  let active = 0;
  const batcher = new MicroBatcher<number, number>(async (xs) => {
    active++;
    seen.maxActive = Math.max(seen.maxActive, active);
    seen.calls.push(xs);
    await new Promise((r) => setTimeout(r, 20));
    active--;
    return xs.map((x) => x * 10);
  }, options);
  return { batcher, seen };
}

describe('MicroBatcher ordering', () => {
  it('runs one batch at a time; items submitted meanwhile form the next batch, in order', async () => {
    const { batcher: b, seen } = slowBatcher({ maxSize: 3, maxWaitMs: 1 });
    const first = b.submit(1);
    await new Promise((r) => setTimeout(r, 5));
    const rest = [2, 3, 4, 5, 6].map((x) => b.submit(x));
    await Promise.all([first, ...rest]);
    expect(seen.maxActive).toBe(1);
    expect(seen.calls).toEqual([[1], [2, 3, 4], [5, 6]]);
  });
});

describe('MicroBatcher concurrency', () => {
  it('runs up to `concurrency` batches at once, each started in submission order', async () => {
    const { batcher: b, seen } = slowBatcher({ maxSize: 2, maxWaitMs: 1, concurrency: 2 });
    const out = await Promise.all([1, 2, 3, 4, 5, 6].map((x) => b.submit(x)));
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(seen.maxActive).toBe(2);
    expect(seen.calls).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('a partial batch starts beside a running one once its wait is over', async () => {
    let release: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (release = r));
    const started: number[][] = [];
    const b = new MicroBatcher<number, number>(
      async (xs) => {
        started.push(xs);
        if (xs.includes(1)) await blocked;
        return xs;
      },
      { maxSize: 10, maxWaitMs: 5, concurrency: 2 },
    );
    const first = b.submit(1);
    await new Promise((r) => setTimeout(r, 20));
    // The first batch is still blocked; the second must not wait for it.
    await expect(b.submit(2)).resolves.toBe(2);
    expect(started).toEqual([[1], [2]]);
    release();
    await expect(first).resolves.toBe(1);
  });
});
