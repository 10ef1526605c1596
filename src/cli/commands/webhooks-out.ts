/**
 * `concord webhooks-out <connector> [--dead] [--redeliver] [--enable]`: a connector's outbound
 * Standard Webhooks endpoint, as `GET /api/v1/connectors/{id}/webhooks-out` shows it, and the
 * same actions: enable a disabled endpoint, put dead letters back to pending, list them. It works
 * on the hub's database alone: the running push processes pick the changes up at their next poll.
 */
import type { Command } from 'commander';
import { openConfiguredStore } from '../../app/store.js';
import { createHubLogger } from '../../app/logger.js';
import { WebhooksOutAdmin } from '../../sync/index.js';
import type { WebhooksOutReport } from '../../sync/index.js';
import type { WebhookDelivery } from '../../store/index.js';
import { withConfigOption } from '../config-path.js';
import { loadConnector } from '../connector-config.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

interface Options {
  config?: string;
  dead?: boolean;
  redeliver?: boolean;
  enable?: boolean;
  json?: boolean;
}

async function webhooksOut(io: CliIo, id: string, options: Options): Promise<number> {
  const loaded = await loadConnector(io, 'concord webhooks-out', id, options.config);
  if (!loaded) return 1;
  const { config, connectors } = loaded;
  if (!loaded.connector.outboundWebhooks) {
    io.error(`concord webhooks-out: connector "${id}" sends no outbound webhooks`);
    return 1;
  }
  const logger = createHubLogger({ level: io.env['LOG_LEVEL'] ?? 'warn', ...(io.logs ? { destination: io.logs } : {}) });
  const store = await openConfiguredStore(config, connectors, logger);
  try {
    await actOnWebhooksOut(io, new WebhooksOutAdmin(store, connectors), id, options);
    return 0;
  } finally {
    await store.close();
  }
}

/** What the command does once the store is open: `--enable`, then `--redeliver`, then the report (and `--dead`). */
export async function actOnWebhooksOut(io: CliIo, admin: WebhooksOutAdmin, id: string, options: Omit<Options, 'config'>): Promise<void> {
  const enabledFrom = options.enable ? await admin.enable(id, 'cli') : undefined;
  const redelivered = options.redeliver ? await admin.redeliver(id, 'cli') : undefined;
  const report = await admin.report(id);
  const dead = options.dead ? await admin.deadLetters(id, 1_000) : undefined;
  if (options.json) {
    io.log(
      JSON.stringify({
        ...report,
        ...(enabledFrom ? { enabledFrom } : {}),
        ...(redelivered === undefined ? {} : { redelivered }),
        ...(dead ? { deadLetters: dead } : {}),
      }),
    );
    return;
  }
  if (enabledFrom !== undefined)
    io.log(enabledFrom === 'enabled' ? `${id}: the endpoint was enabled already` : `${id}: endpoint enabled (it was ${enabledFrom})`);
  if (redelivered !== undefined) io.log(`${id}: ${redelivered} dead letter(s) pending again`);
  printReport(io, report);
  if (dead) printDead(io, dead);
}

function printReport(io: CliIo, report: WebhooksOutReport): void {
  const why = report.state === 'enabled' ? '' : ` since ${report.disabledAt ?? '?'}: ${report.reason ?? ''}`;
  io.log(`${report.connector} -> ${report.url}`);
  io.log(`  state: ${report.state}${why}`);
  io.log(`  last success: ${report.lastSuccessAt ?? 'never'}`);
  io.log(`  messages: ${report.counts.pending} pending, ${report.counts.delivered} delivered, ${report.counts.dead} dead`);
}

function printDead(io: CliIo, dead: readonly WebhookDelivery[]): void {
  if (dead.length === 0) io.log('  no dead letters');
  for (const d of dead) {
    const answer = d.lastStatus === null ? 'no answer' : `HTTP ${d.lastStatus}`;
    io.log(`  dead ${d.messageId} ${d.type}: ${d.attempts} attempts, last ${answer} (${d.lastError ?? ''}), enqueued ${d.createdAt}`);
  }
}

export function register(program: Command, io: CliIo = processIo): void {
  withConfigOption(program.command('webhooks-out <connector>'))
    .description("a connector's outbound webhooks: endpoint state and counts; enable it, redeliver or list dead letters")
    .option('--dead', 'list the dead letters')
    .option('--redeliver', 'put every dead letter back to pending, with a fresh retry schedule')
    .option('--enable', 'enable the endpoint after a 410 or a failing receiver disabled it')
    .option('--json', 'print the result as JSON')
    .action(async (id: string, options: Options) => {
      try {
        io.exit(await webhooksOut(io, id, options));
      } catch (err) {
        io.error(`concord webhooks-out: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}
