/** Small operating-system helpers of the chaos harness: waiting for a child to exit, clocks. */
import type { ChildProcess } from 'node:child_process';

/** Resolves when the child has exited (at once if it already has); rejects after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy-waits until the wall clock has moved to a new millisecond (so two edits never share one). */
export function nextMillisecond(): number {
  const start = Date.now();
  let now = start;
  while (now === start) now = Date.now();
  return now;
}
