/**
 * `concord start [--config F] [--role all|api|worker]`.
 *
 * The server and the workers are not built yet, so for now this validates the config and
 * says what it checked. The helper that builds the server replaces this body.
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, redactUrl, summaryLine } from '../report.js';

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export function register(program: Command): void {
  withConfigOption(program.command('start'))
    .description('run the hub (API server and workers)')
    .addOption(new Option('-r, --role <role>', 'which part of the hub to run').choices(ROLES).default('all'))
    .action(async (options: { config?: string; role: Role }) => {
      const file = resolveConfigPath(options.config);
      console.log(`concord start --role ${options.role}: validating ${file}`);
      const result = await loadConfig(file, { connectors: builtinConnectors });
      if (!result.ok) {
        printErrors(result.errors);
        process.exitCode = 1;
        return;
      }
      const { config, env } = result;
      printWarnings(result.warnings);
      console.log(summaryLine(file, config));
      console.log('Checked:');
      console.log('  - YAML syntax, and every key and value against the schema (unknown keys are errors)');
      console.log(
        `  - \${env:...} references: ${env.set.length > 0 ? `set: ${env.set.join(', ')}` : 'none set'}; ` +
          `defaults used: ${env.defaulted.length > 0 ? env.defaulted.join(', ') : 'none'}`,
      );
      console.log(
        `  - secrets come from the environment${config.hub.mode === 'development' ? ' (development mode: published defaults allowed)' : ''}`,
      );
      console.log('  - every purpose, channel and topic a connector or purpose refers to is in the catalog');
      console.log(`  - connector types known: ${builtinConnectors.map((c) => c.type).join(', ') || '(none registered yet)'}`);
      console.log(
        `Hub: mode ${config.hub.mode}, Redis ${redactUrl(config.hub.redisUrl)} (prefix ${config.hub.keyPrefix}), ` +
          `database ${redactUrl(config.hub.databaseUrl)}, public URL ${config.hub.publicUrl}`,
      );
      console.log(
        'The server and the workers are not built yet, so nothing was started. ' +
          'This command will run them once they exist; today it only validates the configuration.',
      );
    });
}
