/**
 * Process lifecycle for engine processes: on SIGTERM (or SIGINT) stop taking work, let the
 * jobs in flight finish, close cleanly and exit 0. A second signal exits at once; so does a
 * close that takes longer than `timeoutMs` (its jobs are then retried elsewhere, since every
 * job is idempotent and leases expire).
 */
import type { Logger } from 'pino';

export interface SignalOptions {
  logger: Logger;
  signals?: readonly NodeJS.Signals[];
  /** Longest wait for in-flight work before exiting anyway. */
  timeoutMs?: number;
  /** Called instead of `process.exit` (tests). */
  exit?: (code: number) => void;
}

/** Closes with `close` on the first signal, then exits. Returns a function that removes the handlers. */
export function closeOnSignals(close: () => Promise<void>, options: SignalOptions): () => void {
  const { logger, signals = ['SIGTERM', 'SIGINT'], timeoutMs = 60_000 } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let closing = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    closing = true;
    logger.info({ signal }, 'signal received: finishing in-flight jobs');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'in-flight jobs did not finish in time: exiting');
      exit(1);
    }, timeoutMs);
    timer.unref();
    close().then(
      () => {
        clearTimeout(timer);
        logger.info('closed cleanly');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        logger.error({ err: err instanceof Error ? err.message : String(err) }, 'close failed');
        exit(1);
      },
    );
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
