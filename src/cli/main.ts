/**
 * The `concord` command. Each subcommand lives in `commands/<name>.ts` and exports
 * `register(program)`; adding a command means adding its file and one line to `commands`.
 */
import { Command } from 'commander';
import * as dsr from './commands/dsr.js';
import * as emulate from './commands/emulate.js';
import * as migrate from './commands/migrate.js';
import * as schema from './commands/schema.js';
import * as secret from './commands/secret.js';
import * as start from './commands/start.js';
import * as unpark from './commands/unpark.js';
import * as validate from './commands/validate.js';

/** A subcommand module. */
export interface CommandModule {
  register(program: Command): void;
}

/** The subcommands, in the order `concord --help` lists them. */
export const commands: readonly CommandModule[] = [start, validate, secret, schema, migrate, emulate, dsr, unpark];

const program = new Command()
  .name('concord')
  .description('Concord: one living profile per customer, kept in agreement with every connected system.')
  .showHelpAfterError();
for (const command of commands) command.register(program);

await program.parseAsync(process.argv);
