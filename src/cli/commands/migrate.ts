/**
 * `concord migrate [--config F] [--database-url URL]`: applies pending forward-only schema
 * migrations to the store and prints what it applied. `--database-url` (or
 * `CONCORD_DATABASE_URL`) skips the config file, for provisioning scripts.
 */
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { loadConfig } from '../../config/load.js';
import { MergePolicy } from '../../profile/schema.js';
import { openStore } from '../../store/index.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, redactUrl } from '../report.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

async function databaseUrlFrom(io: CliIo, options: { config?: string; databaseUrl?: string }): Promise<string | undefined> {
  const direct = options.databaseUrl ?? io.env['CONCORD_DATABASE_URL'];
  if (direct !== undefined && direct !== '') return direct;
  const file = resolveConfigPath(options.config, io.env);
  const result = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
  if (!result.ok) {
    printErrors(io, result.errors);
    return undefined;
  }
  printWarnings(io, result.warnings);
  return result.config.hub.databaseUrl;
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('migrate'))
    .description('apply pending database migrations (they also run when the hub starts)')
    .option('--database-url <url>', "store URL (sqlite:..., postgres://...) instead of the config file's hub.databaseUrl")
    .action(async (options: { config?: string; databaseUrl?: string }) => {
      const url = await databaseUrlFrom(io, options);
      if (url === undefined) {
        io.exit(1);
        return;
      }
      try {
        // Migrations need neither the merge policy nor the hash key.
        const store = await openStore({ url, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: 'unused', autoMigrate: false });
        try {
          const applied = await store.migrate();
          io.log(applied.length === 0 ? `${redactUrl(url)}: schema up to date` : `${redactUrl(url)}: applied ${applied.join(', ')}`);
        } finally {
          await store.close();
        }
      } catch (error) {
        io.error(`${redactUrl(url)}: migration failed: ${error instanceof Error ? error.message : String(error)}`);
        io.exit(1);
      }
    });
}
