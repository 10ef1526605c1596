/**
 * What a command writes to, reads its environment from and waits on: the process's streams,
 * environment and signals (`processIo`, what `concord` uses), or a caller's own, so a test runs
 * a command in its own process (`runCli(args, io)` in `program.ts`) instead of starting one.
 */
import type { DestinationStream } from 'pino';

/** Where progress goes (see `progress.ts`): a terminal (`isTTY`, `columns`) or not; `process.stderr` is one. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  /** The terminal's width in characters. */
  readonly columns?: number;
  write(text: string): unknown;
}

export interface CliIo {
  /** Where the config's `${env:NAME}`, `CONCORD_CONFIG`, `LOG_LEVEL` and the like are read. */
  readonly env: NodeJS.ProcessEnv;
  /** One line on standard output (as `console.log` writes it). */
  log(line: string): void;
  /** One line on standard error (as `console.error` writes it). */
  error(line: string): void;
  /** Text on standard output as it is (a schema, commander's help). */
  writeOut(text: string): void;
  /** Text on standard error as it is (commander's usage errors). */
  writeErr(text: string): void;
  /** Sets the exit code the command ends with. */
  exit(code: number): void;
  /** Resolves with the name of the signal that asks a long-running command (start, emulate) to stop. */
  untilStopped(): Promise<string>;
  /** Where the loggers of a command write; standard output (pino's default) when absent. */
  readonly logs?: DestinationStream;
  /** Where long commands draw their progress (a bar on a terminal); plain lines on `writeErr` when absent. */
  readonly progress?: ProgressStream;
  /** Standard output is a terminal (tables and bars for people); false or absent: plain lines for machines. */
  readonly isTTY?: boolean;
  /** All of standard input (`concord key hash`); absent: the command has no input. */
  readStdin?(): Promise<string>;
}

/** The process's own: console, `process.env`, `process.exitCode`, SIGINT and SIGTERM. */
export const processIo: CliIo = {
  get env() {
    return process.env;
  },
  get progress() {
    return process.stderr;
  },
  log: (line) => console.log(line),
  error: (line) => console.error(line),
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
  exit: (code) => {
    process.exitCode = code;
  },
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString('utf8');
  },
  untilStopped: () =>
    new Promise((resolve) => {
      const stop = (signal: string): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve(signal);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }),
};
