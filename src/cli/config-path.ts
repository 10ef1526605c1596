/** How every command finds the config file: `--config F`, else `CONCORD_CONFIG`, else the default. */
import type { Command } from 'commander';

export const DEFAULT_CONFIG_PATH = 'config/concord.yaml';

/** Adds `-c, --config <file>` to a command. */
export function withConfigOption(command: Command): Command {
  return command.option('-c, --config <file>', `config file (default: $CONCORD_CONFIG or ${DEFAULT_CONFIG_PATH})`);
}

export function resolveConfigPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (option !== undefined && option !== '') return option;
  const fromEnv = env['CONCORD_CONFIG'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_CONFIG_PATH;
}
