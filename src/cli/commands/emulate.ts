/**
 * `concord emulate <system> [--port N]`: runs a system's emulator standalone (for the demo and
 * manual testing) until interrupted. The systems are the registry's (`builtinEmulators` in
 * `connectors/index.ts`); each emulator declares its options, secret and default port.
 */
import type { Command } from 'commander';
import { builtinEmulators } from '../../../connectors/index.js';
import { EmulateOptions } from '../../connector/emulator-definition.js';
import type { EmulatorDefinition, RunningEmulator } from '../../connector/emulator-definition.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

export { EmulateOptions };
export type { RunningEmulator };

/** The emulators `concord emulate` can run, by system name (the registry's, keyed by id). */
export const EMULATORS: Readonly<Record<string, EmulatorDefinition>> = Object.fromEntries(
  builtinEmulators.map((e): [string, EmulatorDefinition] => [e.id, e]),
);

/** Parses `100/10s`, `190/10000ms`, `5/1s`. */
export function parseRateLimit(text: string): { max: number; intervalMs: number } {
  const m = /^(\d+)\/(\d+)(ms|s)$/.exec(text.trim());
  if (!m) throw new Error(`--rate-limit expects N/<duration>, e.g. 100/10s (got "${text}")`);
  const max = Number(m[1]);
  const intervalMs = Number(m[2]) * (m[3] === 's' ? 1000 : 1);
  if (max < 1 || intervalMs < 1) throw new Error('--rate-limit needs a positive count and window');
  return { max, intervalMs };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port expects 0-65535 (got "${text}")`);
  return port;
}

/** The `--webhook-url` help: what each emulator that sends webhooks expects there. */
function webhookUrlHelp(): string {
  const meanings = Object.values(EMULATORS).flatMap((e) => (e.cli.webhookUrl ? [`${e.id}: ${e.cli.webhookUrl}`] : []));
  return `where to send webhooks (${meanings.join('; ')})`;
}

function defaultPorts(): string {
  return Object.values(EMULATORS)
    .map((e) => `${e.id} ${e.defaultPort}`)
    .join(', ');
}

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('emulate')
    .description(`run a system's emulator standalone (${Object.keys(EMULATORS).join(', ')})`)
    .argument('<system>', `one of: ${Object.keys(EMULATORS).join(', ')}`)
    .option('-p, --port <port>', `port to listen on (0 picks a free one; default: the system's own, ${defaultPorts()})`)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--webhook-url <url>', webhookUrlHelp())
    .option(
      '--secret <secret>',
      `webhook signing secret (default: the system's env variable, ${Object.values(EMULATORS)
        .map((e) => e.secretEnv)
        .join(' or ')})`,
    )
    .option(
      '--rate-limit <n/window>',
      `requests allowed per window, e.g. 100/10s (${Object.values(EMULATORS)
        .filter((e) => e.cli.rateLimit)
        .map((e) => e.id)
        .join(', ')})`,
    )
    .action(async (system: string, opts: { port?: string; host: string; webhookUrl?: string; secret?: string; rateLimit?: string }) => {
      const entry = EMULATORS[system];
      if (!entry) {
        io.error(`unknown system "${system}"; known: ${Object.keys(EMULATORS).join(', ')}`);
        io.exit(1);
        return;
      }
      const refused = [
        ...(opts.webhookUrl && !entry.cli.webhookUrl ? ['--webhook-url'] : []),
        ...(opts.rateLimit && !entry.cli.rateLimit ? ['--rate-limit'] : []),
      ];
      if (refused.length > 0) {
        io.error(`the ${system} emulator does not take ${refused.join(' or ')}`);
        io.exit(1);
        return;
      }
      const secret = opts.secret ?? io.env[entry.secretEnv];
      if (!secret) {
        io.error(`give the webhook signing secret with --secret or ${entry.secretEnv}`);
        io.exit(1);
        return;
      }
      const options = EmulateOptions.safeParse({
        port: opts.port === undefined ? entry.defaultPort : parsePort(opts.port),
        host: opts.host,
        secret,
        ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
        ...(opts.rateLimit ? { rateLimit: parseRateLimit(opts.rateLimit) } : {}),
      });
      if (!options.success) {
        io.error(
          options.error.issues
            .map((i) => `${i.path.length > 0 ? `--${i.path.join('.').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ` : ''}${i.message}`)
            .join('\n'),
        );
        io.exit(1);
        return;
      }
      const running = await entry.start(options.data);
      io.log(`${system} emulator listening on ${running.url} (${entry.description})`);
      await io.untilStopped();
      await running.close();
    });
}
