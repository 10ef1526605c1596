/**
 * The `concord` program. Each subcommand lives in `commands/<name>.ts` and exports
 * `register(program, io)`; adding a command means adding its file and one line to `commands`.
 * `runCli` runs one command line against an `CliIo` (`main.ts` passes the process's; tests
 * pass their own and run commands in their own process).
 */
import { Command, CommanderError } from 'commander';
import * as check from './commands/check.js';
import * as connector from './commands/connector.js';
import * as dsr from './commands/dsr.js';
import * as emulate from './commands/emulate.js';
import * as key from './commands/key.js';
import * as migrate from './commands/migrate.js';
import * as profile from './commands/profile.js';
import * as push from './commands/push.js';
import * as plan from './commands/plan.js';
import * as retention from './commands/retention.js';
import * as runs from './commands/runs.js';
import * as schema from './commands/schema.js';
import * as secret from './commands/secret.js';
import * as start from './commands/start.js';
import * as sync from './commands/sync.js';
import * as unpark from './commands/unpark.js';
import * as validate from './commands/validate.js';
import * as webhooksOut from './commands/webhooks-out.js';
import { processIo } from './io.js';
import { packageVersion } from './version.js';
import type { CliIo } from './io.js';

/** A subcommand module. */
export interface CommandModule {
  register(program: Command, io: CliIo): void;
}

/** The subcommands, in the order `concord --help` lists them. */
export const commands: readonly CommandModule[] = [
  start,
  validate,
  check,
  plan,
  secret,
  key,
  schema,
  migrate,
  emulate,
  dsr,
  profile,
  retention,
  unpark,
  sync,
  push,
  runs,
  webhooksOut,
  connector,
];

/** The program with every command, writing to `io`; usage errors throw (`exitOverride`) instead of exiting the process. */
export function buildProgram(io: CliIo = processIo): Command {
  const program = new Command()
    .name('concord')
    .description('Concord: one living profile per customer, kept in agreement with every connected system.')
    .version(packageVersion(), '-V, --version', "print Concord's version")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.writeOut(text), writeErr: (text) => io.writeErr(text) });
  for (const command of commands) command.register(program, io);
  return program;
}

/**
 * Runs `concord <args>` (the arguments after the command's name) to its end: a usage error
 * (unknown option, invalid `--role`) or `--help` sets the exit code commander gives it.
 */
export async function runCli(args: readonly string[], io: CliIo = processIo): Promise<void> {
  try {
    await buildProgram(io).parseAsync([...args], { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    io.exit(err.exitCode);
  }
}
