/**
 * `concord start [--config F] [--role ROLES] [--demo]`.
 *
 * Runs the hub from the config with the given roles (see `src/app/roles.ts`): one of, or a
 * comma-separated list of, `api` (the HTTP server: webhooks, admin API, preference center),
 * `ingest`, `relay`, `push`, `pull`, `privacy` (the workers), `worker` (all the workers) and
 * `all` (everything, the default). Processes with different roles share one Redis and one
 * database, e.g. `--role api,push` and `--role ingest,relay,pull,privacy` on a 2-core machine.
 * An unknown role exits 1 with the valid ones. `--demo` (what `npm start` runs; always every
 * role) also starts an emulator for each enabled connector instance (the registry's
 * `builtinEmulators`), seeds demo profiles and prints the URLs to try. Stops cleanly on SIGINT/SIGTERM.
 *
 * `CONCORD_ENGINE_TUNING` (JSON, the fields of `EngineTuning` in `src/sync/options.ts`) shortens
 * the engine's timings, e.g. `{"inflightLeaseMs":3000}`: the chaos suite (`test/chaos/`) runs
 * real hub processes with it so that a crash recovers in seconds instead of minutes. Invalid
 * JSON or fields stop the start with exit code 1.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { builtinConnectors, builtinEmulators } from '../../../connectors/index.js';
import { startDemo } from '../../app/demo.js';
import { demoStateFile } from '../../app/demo-state.js';
import { ROLES, startHubProcess } from '../../app/hub.js';
import type { Role } from '../../app/hub.js';
import { formatRoles, parseRoles, ROLE_DESCRIPTIONS, toRoleSet } from '../../app/roles.js';
import type { RoleSet } from '../../app/roles.js';
import { loadConfig } from '../../config/load.js';
import { EngineTuning } from '../../sync/index.js';
import { resolveConfigPath, withConfigOption } from '../config-path.js';
import { printErrors, printWarnings, redactUrl, summaryLine } from '../report.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { createHubLogger } from '../../app/logger.js';
import { redisUrlForLog } from '../../app/redis.js';

export { ROLES };
export type { Role };

/** Commander's parser of `--role`: an unknown role is a usage error (exit code 1, no stack trace). */
function roleOption(value: string): RoleSet {
  const parsed = parseRoles(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.message);
  return parsed.roles;
}

const ROLES_HELP = [
  '',
  'Roles (--role takes one, or a comma-separated list such as api,push):',
  ...ROLES.map((role) => `  ${role.padEnd(8)} ${ROLE_DESCRIPTIONS[role]}${role === 'all' ? ' (the default)' : ''}`),
  '',
  'Processes with different roles share one Redis (key prefix) and one database; together they',
  'must cover every role. On a 2-core machine, for example:',
  '  concord start --role api,push   and   concord start --role ingest,relay,pull,privacy',
  '  (or --role api and --role worker)',
  '',
].join('\n');

/** The engine timings from `CONCORD_ENGINE_TUNING` (see above); `undefined` when it is not set. */
export function tuningFromEnv(
  text = process.env.CONCORD_ENGINE_TUNING,
): { ok: true; tuning: EngineTuning | undefined } | { ok: false; message: string } {
  if (!text) return { ok: true, tuning: undefined };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'CONCORD_ENGINE_TUNING is not valid JSON' };
  }
  const parsed = EngineTuning.strict().safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      message: `CONCORD_ENGINE_TUNING: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    };
  return { ok: true, tuning: parsed.data };
}

/** Registers `concord start` on the program. */
export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('start'))
    .description('run the hub (API server and workers); --demo adds the emulators and demo data')
    .addOption(
      new Option('-r, --role <roles>', `what this process runs (${ROLES.join(', ')}; see Roles below)`)
        .argParser(roleOption)
        .default(toRoleSet('all'), 'all'),
    )
    .option(
      '--demo',
      `start the emulators (${builtinEmulators.map((e) => e.id).join(', ')}), seed demo profiles and print the URLs (development mode only)`,
    )
    .addHelpText('after', ROLES_HELP)
    .action(async (options: { config?: string; role: RoleSet; demo?: boolean }) => {
      const file = resolveConfigPath(options.config, io.env);
      const result = await loadConfig(file, { connectors: builtinConnectors, env: io.env });
      if (!result.ok) {
        printErrors(io, result.errors);
        io.exit(1);
        return;
      }
      const { config } = result;
      if (!options.demo) printWarnings(io, result.warnings);
      io.log(summaryLine(file, config));
      const logger = createHubLogger({
        level: io.env['LOG_LEVEL'] ?? (options.demo ? 'warn' : 'info'),
        ...(io.logs ? { destination: io.logs } : {}),
      });

      if (options.demo) {
        io.log('Starting the demo: emulators, hub and demo data...');
        let demo;
        try {
          demo = await startDemo(config, logger, { stateFile: demoStateFile(io.env), configPath: file });
        } catch (err) {
          io.error(`The demo could not start: ${err instanceof Error ? err.message : String(err)}`);
          io.exit(1);
          return;
        }
        const width = Math.max(...demo.links.map((l) => l.label.length));
        io.log('');
        io.log(
          `Concord is running (Redis ${redactUrl(demo.redis.url)}${demo.redis.private ? ', a private redis-server started for the demo' : ''}).`,
        );
        io.log('');
        for (const link of demo.links) io.log(`  ${link.label.padEnd(width)}  ${link.url}${link.note ? `  (${link.note})` : ''}`);
        io.log('');
        io.log('Try it: open the preference center, switch "E-mail" off under Marketing communications and save;');
        if (demo.afterWithdrawal.length > 0) io.log(`then reload the emulator views: ${demo.afterWithdrawal.join(', ')}.`);
        io.log('Demo data lives in ./data/demo.db and the Redis prefix {concord-demo}; both are reset on every start. Ctrl-C stops.');
        io.log('`npm run concord -- dsr …` in another terminal works on this demo (it finds it through data/demo.json).');
        const signal = await io.untilStopped();
        io.log(`${signal}: stopping...`);
        await demo.close();
        return;
      }

      const tuning = tuningFromEnv(io.env['CONCORD_ENGINE_TUNING']);
      if (!tuning.ok) {
        io.error(tuning.message);
        io.exit(1);
        return;
      }
      let hub;
      try {
        hub = await startHubProcess(config, { role: options.role, logger, ...(tuning.tuning ? { tuning: tuning.tuning } : {}) });
      } catch (err) {
        io.error(`The hub could not start: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
        return;
      }
      io.log(
        `Hub running (role ${formatRoles(options.role)}): Redis ${redisUrlForLog(config.hub.redisUrl)} (prefix ${config.hub.keyPrefix}), ` +
          `database ${redactUrl(config.hub.databaseUrl)}${hub.urls.length > 0 ? `, listening on ${hub.urls.join(' and ')} (public URL ${config.hub.publicUrl})` : ''}` +
          `${hub.metricsUrl ? `, metrics on ${hub.metricsUrl}/metrics` : ''}`,
      );
      const signal = await io.untilStopped();
      io.log(`${signal}: stopping...`);
      await hub.close();
    });
}
