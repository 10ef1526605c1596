/**
 * The hub's warnings and errors during a bench run: every hub process logs JSON lines (pino) to
 * standard error; the bench passes them on and counts those at `warn` (40) or above, by message
 * and error code, so a run's figures come with what went wrong under them (write conflicts,
 * failed jobs that were retried...).
 */
import type { DestinationStream } from 'pino';

export class LogTally {
  /** Lines at warn or above, by `msg (err.code)`. */
  readonly byKind = new Map<string, number>();
  private rest = '';

  get total(): number {
    let n = 0;
    for (const count of this.byKind.values()) n += count;
    return n;
  }

  /** Counts the complete lines of a chunk (a line split over chunks is counted when it ends). */
  add(chunk: string): void {
    const lines = (this.rest + chunk).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    if (!line.startsWith('{')) return;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof entry !== 'object' || entry === null) return;
    const { level, msg, err } = entry as { level?: unknown; msg?: unknown; err?: { code?: unknown } };
    if (typeof level !== 'number' || level < 40) return;
    const code = typeof err?.code === 'string' ? ` (${err.code})` : '';
    const kind = `${typeof msg === 'string' ? msg : 'no message'}${code}`;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }

  /** A pino destination that counts every line and passes it on to `to` (standard error by default). */
  destination(to: NodeJS.WritableStream = process.stderr): DestinationStream {
    return {
      write: (line: string): void => {
        this.add(line);
        to.write(line);
      },
    };
  }

  /** The kinds, most frequent first: `write_conflict ... 12; job failed (x) 3`. */
  summary(): string {
    return [...this.byKind]
      .sort((a, b) => b[1] - a[1])
      .map(([kind, n]) => `${kind} x${n}`)
      .join('; ');
  }
}
