/**
 * `concord emulate <system> --port N`: runs a system's emulator standalone (for the demo and
 * manual testing) until interrupted. Adding an emulator means adding one line to `EMULATORS`.
 */
import type { Command } from 'commander';
import { startHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import { startSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';

/** Options every emulator understands. */
export interface EmulateOptions {
  port: number;
  host: string;
  /** Where the emulator sends its signed webhooks. */
  webhookUrl?: string;
  /** The secret webhooks are signed with (or the system's own env variable). */
  secret?: string;
  /** Requests per window, e.g. `100/10s`. */
  rateLimit?: { max: number; intervalMs: number };
}

export interface RunningEmulator {
  url: string;
  close(): Promise<void>;
}

interface EmulatorEntry {
  description: string;
  /** Environment variable the signing secret is read from when `--secret` is absent. */
  secretEnv: string;
  start(options: EmulateOptions & { secret: string }): Promise<RunningEmulator>;
}

/** The emulators `concord emulate` can run, by system name. */
export const EMULATORS: Record<string, EmulatorEntry> = {
  hubspot: {
    description: 'HubSpot CRM contacts v3, communication preferences v4, signed v3 webhooks; side door under /_emulator/',
    secretEnv: 'HUBSPOT_CLIENT_SECRET',
    start: (o) =>
      startHubSpotEmulator({
        port: o.port,
        host: o.host,
        clientSecret: o.secret,
        ...(o.webhookUrl ? { webhookUrl: o.webhookUrl } : {}),
        ...(o.rateLimit ? { rateLimit: { max: o.rateLimit.max, intervalMs: o.rateLimit.intervalMs } } : {}),
      }),
  },
  salesforce: {
    description: 'Salesforce OAuth client credentials, REST sObjects and Collections, SOQL, Bulk API 2.0, Outbound Messages (to --webhook-url); side door under /_emulator/',
    secretEnv: 'SALESFORCE_CLIENT_SECRET',
    start: (o) => startSalesforceEmulator({ port: o.port, host: o.host, clientSecret: o.secret, ...(o.webhookUrl ? { outboundMessageUrl: o.webhookUrl } : {}) }),
  },
};

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

export function register(program: Command): void {
  program
    .command('emulate')
    .description(`run a system's emulator standalone (${Object.keys(EMULATORS).join(', ')})`)
    .argument('<system>', `one of: ${Object.keys(EMULATORS).join(', ')}`)
    .option('-p, --port <port>', 'port to listen on (0 picks a free one)', '4010')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--webhook-url <url>', "where to send webhooks (Salesforce: the Outbound Message endpoint URL, <hub>/webhooks/<id>/<outboundMessageToken>)")
    .option('--secret <secret>', "webhook signing secret (default: the system's env variable, e.g. HUBSPOT_CLIENT_SECRET)")
    .option('--rate-limit <n/window>', 'requests allowed per window, e.g. 100/10s')
    .action(async (system: string, opts: { port: string; host: string; webhookUrl?: string; secret?: string; rateLimit?: string }) => {
      const entry = EMULATORS[system];
      if (!entry) {
        console.error(`unknown system "${system}"; known: ${Object.keys(EMULATORS).join(', ')}`);
        process.exitCode = 1;
        return;
      }
      const secret = opts.secret ?? process.env[entry.secretEnv];
      if (!secret) {
        console.error(`give the webhook signing secret with --secret or ${entry.secretEnv}`);
        process.exitCode = 1;
        return;
      }
      const running = await entry.start({
        port: parsePort(opts.port),
        host: opts.host,
        secret,
        ...(opts.webhookUrl ? { webhookUrl: opts.webhookUrl } : {}),
        ...(opts.rateLimit ? { rateLimit: parseRateLimit(opts.rateLimit) } : {}),
      });
      console.log(`${system} emulator listening on ${running.url} (${entry.description})`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await running.close();
    });
}
