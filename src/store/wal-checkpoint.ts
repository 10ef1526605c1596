/**
 * WAL checkpoints of a file-backed SQLite store, run in a worker thread.
 *
 * better-sqlite3 is synchronous: SQLite's automatic checkpoint runs inside the COMMIT that
 * crosses its threshold, on the event loop. In the sync benchmark that was ~15 commits of
 * ~900 per hub process taking 20-190 ms (~800 ms in all, 2/3 of all commit time) and event-loop
 * stalls of 50+ ms. A thread with its own connection now copies the WAL back
 * (`PRAGMA wal_checkpoint(PASSIVE)`, which never blocks writers); the event-loop connection's
 * automatic checkpoint stays as a safety net at a higher threshold, for a thread that falls
 * behind, cannot start or dies.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';

/** How a store checkpoints its WAL; every field has a default (tests set small ones). */
export interface WalCheckpointOptions {
  /** WAL frames (pages) at which the thread checkpoints. Default 10,000 (~40 MB). */
  pages?: number;
  /** The event-loop connection's own automatic checkpoint, the safety net. Default 40,000 pages. */
  safetyNetPages?: number;
  /** How often the thread looks at the WAL's size, in ms. Default 250. */
  pollMs?: number;
  /** WAL frames at which the thread is started (most short-lived stores never get there). Default `pages / 4`. */
  startPages?: number;
  /** The better-sqlite3 module the thread loads. Default the one this module resolves. */
  driverPath?: string;
}

/**
 * A hot page (a profile changed again and again) is copied back once per checkpoint, not once
 * per few commits: checkpointing every ~40 MB rather than SQLite's ~4 MB took a quarter off the
 * store's time in the sync benchmark.
 */
export const CHECKPOINT_PAGES = 10_000;
/** Four times the thread's threshold: reached only when the thread is not keeping up. */
export const SAFETY_NET_PAGES = 40_000;
const POLL_MS = 250;
/** The WAL file is also checked for a start every this many commits (a `stat`, no open file). */
const START_CHECK_EVERY = 16;

/**
 * The thread (inline CommonJS, so it runs the same under tsx, vitest and the compiled build).
 *
 * It never opens the `-wal` or `-shm` file itself (closing any descriptor of a file drops every
 * POSIX lock the process holds on it, SQLite's included): it `stat`s the WAL every 250 ms, which
 * costs microseconds, and checkpoints only past the threshold, keeping the batching that
 * `CHECKPOINT_PAGES` is for. Its TRUNCATE empties the WAL file, and `journal_size_limit` cuts it
 * back when the safety net restarted it instead, so the file's size follows the frames written
 * since the last checkpoint.
 */
const THREAD_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const { driverPath, filename, thresholdBytes, pollMs } = workerData;
const LEFT_FOR_TRUNCATE = 1000;
const Database = require(driverPath);
const db = new Database(filename, { fileMustExist: true });
db.pragma('synchronous = NORMAL');
// Waits briefly, in this thread, for TRUNCATE's locks; PASSIVE never waits. A busy checkpoint is
// tried again at the next poll.
db.pragma('busy_timeout = 20');
const passive = db.prepare('pragma wal_checkpoint(PASSIVE)');
const truncate = db.prepare('pragma wal_checkpoint(TRUNCATE)');
// Polls to skip after a TRUNCATE that could not finish (doubling, at most 20: ~5 s).
let skip = 0;
let backoff = 0;
const timer = setInterval(() => {
  try {
    if (skip > 0) {
      skip--;
      return;
    }
    const wal = statSync(filename + '-wal', { throwIfNoEntry: false });
    if (wal === undefined || wal.size < thresholdBytes) return;
    // PASSIVE copies the bulk without blocking anyone, then what came in meanwhile. Under steady
    // writes a commit always lands during a pass, so the WAL is never found fully copied and never
    // restarted (it would grow to the safety net): TRUNCATE copies the last frames holding the
    // write lock (writers meet SQLITE_BUSY and retry asynchronously), waits up to 20 ms for the
    // lock and for readers, and empties the WAL.
    passive.get();
    const last = passive.get();
    // Frames a reader still needs cannot be copied: TRUNCATE would only hold writers up waiting
    // for it. Left to a later poll.
    if (last.busy !== 0 || last.log - last.checkpointed > LEFT_FOR_TRUNCATE) return;
    if (truncate.get().busy === 0) {
      backoff = 0;
    } else {
      backoff = Math.min(backoff === 0 ? 1 : backoff * 2, 20);
      skip = backoff;
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
}, pollMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  process.exit(0);
});
`;

/** Bytes of a WAL holding `pages` frames (32-byte header, 24 bytes a frame). */
function walBytes(pages: number, pageSize: number): number {
  return 32 + pages * (pageSize + 24);
}

/** The pragmas of the event-loop connection, given a checkpoint thread: its safety net and the WAL's size limit. */
export function walCheckpointPragmas(pageSize: number, options: WalCheckpointOptions = {}): string[] {
  const pages = options.pages ?? CHECKPOINT_PAGES;
  return [
    `wal_autocheckpoint = ${options.safetyNetPages ?? SAFETY_NET_PAGES}`,
    // Below the thread's threshold, so the WAL's size tells the thread how far it has grown.
    `journal_size_limit = ${walBytes(Math.floor(pages / 4), pageSize)}`,
  ];
}

/**
 * Starts, once the WAL has grown, and stops the checkpoint thread of one SQLite file. A thread
 * that fails is logged once and not restarted; the connection's own checkpoint takes over.
 */
export class WalCheckpointer {
  readonly #filename: string;
  readonly #logger: Logger;
  readonly #startBytes: number;
  readonly #workerData: { driverPath: string; filename: string; thresholdBytes: number; pollMs: number };
  #commits = 0;
  #worker: Worker | undefined;
  #exited: Promise<void> = Promise.resolve();
  #state: 'idle' | 'running' | 'failed' | 'stopped' = 'idle';

  readonly #fallback: (pages: number) => void;
  readonly #pages: number;

  /**
   * `fallback`: gives the connection its own checkpoint back at `pages` (as before the thread)
   * when the thread fails, rather than leaving the WAL to grow to the safety net.
   */
  constructor(
    filename: string,
    pageSize: number,
    logger: Logger,
    options: WalCheckpointOptions = {},
    fallback: (pages: number) => void = () => {},
  ) {
    const pages = options.pages ?? CHECKPOINT_PAGES;
    this.#fallback = fallback;
    this.#pages = pages;
    // Absolute: the thread must find the same file if the process changes directory.
    filename = resolve(filename);
    this.#filename = filename;
    this.#logger = logger;
    this.#startBytes = walBytes(options.startPages ?? Math.floor(pages / 4), pageSize);
    this.#workerData = {
      driverPath: options.driverPath ?? createRequire(import.meta.url).resolve('better-sqlite3'),
      filename,
      thresholdBytes: walBytes(pages, pageSize),
      pollMs: options.pollMs ?? POLL_MS,
    };
  }

  /** Called after each commit: starts the thread once the WAL has reached `startPages`. */
  committed(): void {
    if (this.#state !== 'idle' || ++this.#commits % START_CHECK_EVERY !== 0) return;
    let size: number;
    try {
      size = statSync(`${this.#filename}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    } catch {
      return;
    }
    if (size >= this.#startBytes) this.#start();
  }

  #start(): void {
    this.#state = 'running';
    let worker: Worker;
    try {
      worker = new Worker(THREAD_SOURCE, { eval: true, workerData: this.#workerData });
    } catch (error) {
      this.#fail(error);
      return;
    }
    // Never what keeps a process alive; `stop` ends it when the store closes.
    worker.unref();
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: { error?: string }) => {
      if (message.error !== undefined) this.#fail(new Error(message.error));
    });
    worker.on('error', (error) => this.#fail(error));
    worker.once('exit', (code) => {
      this.#worker = undefined;
      if (this.#state === 'running') this.#fail(new Error(`exited with code ${code}`));
    });
  }

  /** Logged once per store: the safety net keeps the WAL bounded whatever the thread does. */
  #fail(error: unknown): void {
    if (this.#state === 'failed' || this.#state === 'stopped') return;
    this.#state = 'failed';
    try {
      this.#fallback(this.#pages);
    } catch {
      // The safety net's threshold stays: still bounded.
    }
    this.#logger.warn(
      { err: error instanceof Error ? error.message : String(error), file: this.#filename },
      'SQLite checkpoint thread failed; the connection checkpoints the WAL itself again',
    );
  }

  /** Ends the thread (it closes its connection) and waits for it; terminates it after 5 s. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    const worker = this.#worker;
    if (worker) {
      // Held alive until it has closed its connection: an unref'd thread lets the process end
      // while `stop` waits, and the code after `await store.close()` would never run.
      worker.ref();
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      timer.unref();
      await this.#exited;
      clearTimeout(timer);
    }
  }
}
