/** `concord validate [--config F]`: exit 0 with a one-line summary, or exit 1 with every error. */
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, summaryLine } from '../report.js';

export function register(program: Command): void {
  withConfigOption(program.command('validate'))
    .description('check the config file: YAML, schema, env references, secrets, catalog references')
    .action(async (options: { config?: string }) => {
      const file = resolveConfigPath(options.config);
      const result = await loadConfig(file, { connectors: builtinConnectors });
      if (!result.ok) {
        printErrors(result.errors);
        process.exitCode = 1;
        return;
      }
      printWarnings(result.warnings);
      console.log(summaryLine(file, result.config));
    });
}
