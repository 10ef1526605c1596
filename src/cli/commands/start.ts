/**
 * `concord start [--config F] [--role all|api|worker] [--demo]`.
 *
 * Runs the hub from the config: `all` runs the HTTP server and the workers in one process,
 * `api` only the server (webhooks, admin API, preference center), `worker` only the workers;
 * several api and worker processes can share one Redis and one PostgreSQL. `--demo` (what
 * `npm start` runs) also starts the HubSpot and Salesforce emulators, seeds demo profiles and
 * prints the URLs to try. Stops cleanly on SIGINT/SIGTERM.
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { pino } from 'pino';
import { builtinConnectors } from '../../../connectors/index.js';
import { startDemo } from '../../app/demo.js';
import { ROLES, startHubProcess } from '../../app/hub.js';
import type { Role } from '../../app/hub.js';
import { loadConfig } from '../../config/load.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, redactUrl, summaryLine } from '../report.js';

export { ROLES };
export type { Role };

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export function register(program: Command): void {
  withConfigOption(program.command('start'))
    .description('run the hub (API server and workers); --demo adds the emulators and demo data')
    .addOption(new Option('-r, --role <role>', 'which part of the hub to run').choices(ROLES).default('all'))
    .option('--demo', 'start the HubSpot and Salesforce emulators, seed demo profiles and print the URLs (development mode only)')
    .action(async (options: { config?: string; role: Role; demo?: boolean }) => {
      const file = resolveConfigPath(options.config);
      const result = await loadConfig(file, { connectors: builtinConnectors });
      if (!result.ok) {
        printErrors(result.errors);
        process.exitCode = 1;
        return;
      }
      const { config } = result;
      if (!options.demo) printWarnings(result.warnings);
      console.log(summaryLine(file, config));
      const logger = pino({ level: process.env.LOG_LEVEL ?? (options.demo ? 'warn' : 'info') });

      if (options.demo) {
        console.log('Starting the demo: emulators, hub and demo data...');
        let demo;
        try {
          demo = await startDemo(config, logger);
        } catch (err) {
          console.error(`The demo could not start: ${err instanceof Error ? err.message : String(err)}`);
          process.exitCode = 1;
          return;
        }
        const width = Math.max(...demo.links.map((l) => l.label.length));
        console.log('');
        console.log(`Concord is running (Redis ${redactUrl(demo.redis.url)}${demo.redis.private ? ', a private redis-server started for the demo' : ''}).`);
        console.log('');
        for (const link of demo.links) console.log(`  ${link.label.padEnd(width)}  ${link.url}${link.note ? `  (${link.note})` : ''}`);
        console.log('');
        console.log('Try it: open the preference center, switch "E-mail" off under Marketing communications and save;');
        console.log('then reload the two emulator views: HubSpot shows subscription 101 UNSUBSCRIBED, Salesforce HasOptedOutOfEmail true.');
        console.log('Demo data lives in ./data/demo.db and the Redis prefix {concord-demo}; both are reset on every start. Ctrl-C stops.');
        const signal = await untilSignal();
        console.log(`${signal}: stopping...`);
        await demo.close();
        return;
      }

      let hub;
      try {
        hub = await startHubProcess(config, { role: options.role, logger });
      } catch (err) {
        console.error(`The hub could not start: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return;
      }
      console.log(
        `Hub running (role ${options.role}): Redis ${redactUrl(config.hub.redisUrl)} (prefix ${config.hub.keyPrefix}), ` +
          `database ${redactUrl(config.hub.databaseUrl)}${hub.url ? `, listening on ${hub.url} (public URL ${config.hub.publicUrl})` : ''}`,
      );
      const signal = await untilSignal();
      console.log(`${signal}: stopping...`);
      await hub.close();
    });
}
