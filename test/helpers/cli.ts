/**
 * `concord` in the test's own process: the command line runs through `runCli` (the program
 * `src/cli/main.ts` runs) against an io that keeps what it writes, reads the environment given
 * and stops when the test says so. Much faster than a process per command (each one loads tsx
 * and compiles the CLI); a few process-level tests keep the launcher, exit codes and signals honest.
 */
import { runCli } from '../../src/cli/program.js';
import type { CliIo } from '../../src/cli/io.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  /** What the command wrote to standard output so far (its log lines included). */
  stdout(): string;
  stderr(): string;
  /** Asks the command to stop as SIGTERM would, and waits for its end. */
  stop(signal?: string): Promise<CliRun>;
  /** The command's end, once it ends by itself. */
  readonly done: Promise<CliRun>;
}

/** Starts `concord <args>` with `env` as its whole environment. */
export function startConcord(args: readonly string[], env: NodeJS.ProcessEnv): RunningCli {
  let stdout = '';
  let stderr = '';
  let code = 0;
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const io: CliIo = {
    env,
    log: (line) => void (stdout += `${line}\n`),
    error: (line) => void (stderr += `${line}\n`),
    writeOut: (text) => void (stdout += text),
    writeErr: (text) => void (stderr += text),
    exit: (value) => void (code = value),
    untilStopped: () => stopped,
    logs: { write: (line: string) => void (stdout += line) },
  };
  const done = runCli(args, io).then(() => ({ code, stdout, stderr }));
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    stop(signal = 'SIGTERM') {
      stop(signal);
      return done;
    },
  };
}

/** Runs `concord <args>` to its end with `env` as its whole environment. */
export function runConcord(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return startConcord(args, env).done;
}

/** An io that keeps what a command's code writes (both streams, in order), for calling a command's functions directly. */
export function captureIo(options: { isTTY?: boolean } = {}): { io: CliIo; out(): string } {
  let out = '';
  const io: CliIo = {
    env: {},
    ...(options.isTTY === undefined ? {} : { isTTY: options.isTTY }),
    log: (line) => void (out += `${line}\n`),
    error: (line) => void (out += `${line}\n`),
    writeOut: (text) => void (out += text),
    writeErr: (text) => void (out += text),
    exit: () => undefined,
    untilStopped: () => new Promise(() => undefined),
  };
  return { io, out: () => out };
}
