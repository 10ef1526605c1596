/**
 * `concord unpark <id>`: lifts a connector's rate-limit park (after a 429 or a spent daily
 * allowance), the same as `POST /api/v1/connectors/{id}/unpark`. It acts on the hub's Redis
 * directly: every running hub process notices before its next call to the system, and a push
 * (and erase run) of what waits is queued at once. A system still out of allowance parks again.
 */
import type { Command } from 'commander';
import { findConnector, withHubSession } from '../hub-session.js';
import { withSessionOptions } from '../privacy-session.js';
import type { SessionOptions } from '../privacy-session.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

interface Options extends SessionOptions {
  json?: boolean;
}

export function register(program: Command, io: CliIo = processIo): void {
  withSessionOptions(program.command('unpark <id>'))
    .description("lift a connector's rate-limit park (its allowance is back early) and push what waits at once")
    .option('--json', 'print the result as JSON')
    .action((id: string, options: Options) =>
      withHubSession(io, 'unpark', options, async (session) => {
        const { engine, privacy, store } = session;
        if (!findConnector(io, 'unpark', session, id)) return 1;
        const lifted = await engine.unpark(id);
        const parkedForMs = Math.max(lifted.parkedForMs, await privacy.unpark(id));
        await store.appendAudit({ actor: 'cli', action: 'connector.unparked', profileId: null, detail: { connector: id, parkedForMs } });
        if (options.json) io.log(JSON.stringify({ connector: id, parkedForMs }));
        else if (parkedForMs > 0) io.log(`${id}: park lifted (${Math.ceil(parkedForMs / 1000)} s were left); waiting work is pushed now`);
        else io.log(`${id}: park lifted (it was not parked); waiting work is pushed now`);
        return 0;
      }),
    );
}
