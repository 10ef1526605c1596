import { describe, expect, it } from 'vitest';
import { sleep } from './sleep.js';

describe('sleep', () => {
  it('waits the given time', async () => {
    const started = performance.now();
    await sleep(20);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it("rejects at once with the signal's reason when aborted, also when aborted before", async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const started = performance.now();
    const waiting = sleep(10_000, controller.signal);
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    await expect(sleep(10_000, controller.signal)).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('rejects with Error("aborted") when the reason is not an Error', async () => {
    const controller = new AbortController();
    controller.abort('stop');
    await expect(sleep(10_000, controller.signal)).rejects.toThrow('aborted');
  });
});
