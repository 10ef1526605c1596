/**
 * Progress of a long command (`concord sync`, `concord push --wait`): on a terminal one line
 * redrawn in place, a bar with counts, rate and ETA; elsewhere (a pipe, a log file, CI) plain
 * lines, at most one per `plainEveryMs`, so logs stay readable. It writes to standard error,
 * so a command's `--json` output on standard output stays clean.
 */
import type { CliIo, ProgressStream } from './io.js';

export interface ProgressOptions {
  /** What is counted, first on every line (e.g. `hubspot: pull`). */
  label: string;
  /** The unit after the counts (e.g. `records`). */
  unit: string;
  /** Clock (tests). @defaultValue `Date.now` */
  now?: () => number;
  /** Least time between two plain lines. @defaultValue 2000 */
  plainEveryMs?: number;
  /** Least time between two redraws on a terminal. @defaultValue 100 */
  ttyEveryMs?: number;
}

/** The io's progress stream, or plain lines on its standard error when it has none. */
export function progressStream(io: Pick<CliIo, 'progress' | 'writeErr'>): ProgressStream {
  return io.progress ?? { isTTY: false, write: (text: string) => io.writeErr(text) };
}

const BAR_WIDTH = 24;

/** `75s` -> `1m15s`; `3700s` -> `1h01m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** The text of one progress line (without terminal control characters). */
export function progressLine(
  label: string,
  unit: string,
  done: number,
  total: number | undefined,
  elapsedMs: number,
  bar: boolean,
): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const rateText = `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`;
  if (total === undefined || total <= 0) return `${label} ${done} ${unit}, ${rateText}, ${formatDuration(elapsedMs)}`;
  const shown = Math.min(done, total);
  const percent = Math.floor((shown * 100) / total);
  const eta = done >= total ? 'done' : rate > 0 ? `ETA ${formatDuration(((total - shown) / rate) * 1000)}` : 'ETA ?';
  const counts = `${done}/${total} ${unit} ${percent}%, ${rateText}, ${eta}`;
  if (!bar) return `${label} ${counts}`;
  const filled = Math.round((shown * BAR_WIDTH) / total);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${counts}`;
}

/** One progress display; `update` as often as counts change, `finish` once at the end. */
export class Progress {
  private readonly now: () => number;
  private readonly started: number;
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private lastText = '';
  private drawnOnTty = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly options: ProgressOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  private get tty(): boolean {
    return this.stream.isTTY === true;
  }

  /** `done` so far, of `total` when known (an estimate is fine: the bar stops at full). */
  update(done: number, total?: number): void {
    const now = this.now();
    const every = this.tty ? (this.options.ttyEveryMs ?? 100) : (this.options.plainEveryMs ?? 2_000);
    if (now - this.lastDrawn < every) return;
    const text = progressLine(this.options.label, this.options.unit, done, total, now - this.started, this.tty);
    // Plain lines only say something new.
    if (!this.tty && text === this.lastText) return;
    this.lastDrawn = now;
    this.lastText = text;
    if (this.tty) {
      const width = Math.max(20, (this.stream.columns ?? 80) - 1);
      this.stream.write(`\r${text.slice(0, width)}\x1b[K`);
      this.drawnOnTty = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the display with a last line (the bar's line is replaced on a terminal). */
  finish(summary: string): void {
    const line = `${this.options.label} ${summary} in ${formatDuration(this.now() - this.started)}`;
    this.stream.write(this.tty && this.drawnOnTty ? `\r${line}\x1b[K\n` : `${line}\n`);
  }
}
