/** `concord validate [--config F]`: exit 0 with a one-line summary, or exit 1 with every error. */
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, summaryLine } from '../report.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('validate'))
    .description('check the config file: YAML, schema, env references, secrets, catalog references')
    .action(async (options: { config?: string }) => {
      const file = resolveConfigPath(options.config, io.env);
      const result = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
      if (!result.ok) {
        printErrors(io, result.errors);
        io.exit(1);
        return;
      }
      printWarnings(io, result.warnings);
      io.log(summaryLine(file, result.config));
    });
}
