/**
 * `concord sync <id> [--full]`: pulls a connector now, the same as `POST
 * /api/v1/connectors/{id}/sync`. The pull is a job on the connector's pull queue, so the hub's
 * workers run it within the queue's limiter and the call budget like a scheduled pull (this
 * process runs the pull workers itself when no hub process does), and the command waits for it
 * with progress. `--full` reads everything from the start; values equal to what the hub wrote
 * are echoes and erased people stay erased, as with any pull.
 */
import type { Command } from 'commander';
import { ensureWorkers, findConnector, pollUntil, withHubSession } from '../hub-session.js';
import type { HubSession } from '../hub-session.js';
import { withSessionOptions } from '../privacy-session.js';
import type { SessionOptions } from '../privacy-session.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { Progress, progressStream } from '../progress.js';
import type { PullJobView } from '../../sync/index.js';

interface Options extends SessionOptions {
  full?: boolean;
  /** `false` with `--no-wait`. */
  wait?: boolean;
  json?: boolean;
}

async function sync(io: CliIo, session: HubSession, id: string, options: Options): Promise<number> {
  const connector = findConnector(io, 'sync', session, id);
  if (!connector) return 1;
  if (!connector.capabilities.pull) {
    io.error(`concord sync: connector "${id}" does not pull (it only receives changes from the hub)`);
    return 1;
  }
  const { engine, store } = session;
  const full = options.full === true;
  if (options.wait !== false) await ensureWorkers(io, session, 'pull', [id]);
  const jobId = await engine.pullNow(id, { full });
  await store.appendAudit({ actor: 'cli', action: 'connector.sync_requested', profileId: null, detail: { connector: id, full, jobId } });
  const kind = full ? 'full pull' : 'pull';
  if (options.wait === false) {
    if (options.json) io.log(JSON.stringify({ connector: id, jobId, full, state: 'queued' }));
    else io.log(`${id}: ${kind} queued (job ${jobId})`);
    return 0;
  }
  const progress = new Progress(progressStream(io), { label: `${id}: ${kind}`, unit: 'records' });
  const seen: { view: PullJobView | null } = { view: null };
  const ended = await pollUntil(io, async () => {
    const view = await engine.pullProgress(id, jobId);
    seen.view = view;
    if (view) progress.update(view.progress.records, view.progress.expected);
    return view === null || view.state === 'completed' || view.state === 'failed';
  });
  const { view } = seen;
  if (!ended || view === null) {
    progress.finish(ended ? 'ended (its outcome is no longer kept)' : `still runs (job ${jobId}); stopped waiting`);
    if (options.json) io.log(JSON.stringify({ connector: id, jobId, full, state: ended ? 'unknown' : 'running' }));
    return ended ? 0 : 130;
  }
  const { pages, records } = view.result ?? view.progress;
  if (view.state === 'failed') progress.finish(`failed after ${records} records: ${view.error ?? 'unknown error'}`);
  else progress.finish(`done: ${records} records read in ${pages} pages`);
  if (options.json) io.log(JSON.stringify({ connector: id, jobId, full, state: view.state, pages, records, error: view.error }));
  else io.log(`${id}: ${kind} ${view.state === 'failed' ? 'failed' : 'done'} (job ${jobId}): ${records} records read`);
  return view.state === 'failed' ? 1 : 0;
}

export function register(program: Command, io: CliIo = processIo): void {
  withSessionOptions(program.command('sync <id>'))
    .description('pull a connector now (through its queue and rate limits) and wait for it; --full re-reads everything')
    .option('--full', 'read every record from the start, not from the saved cursor (no echoes, erased people stay erased)')
    .option('--no-wait', 'queue the pull and return (the hub runs it)')
    .option('--json', 'print the result as JSON')
    .action((id: string, options: Options) => withHubSession(io, 'sync', options, (session) => sync(io, session, id, options)));
}
