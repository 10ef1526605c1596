/**
 * `concord push <profile>` (a profile id or an e-mail address): pushes one profile again, whole,
 * to every system the hub pushes to, the same as `POST /api/v1/profiles/{profileId}/push`. The
 * profile is queued for each push-capable connector and delivered by the normal push workers
 * (consent gate, restriction, erasure and rate limits as always); its next push sends every
 * mapped field, not only what differs from what the hub believes the system holds. `--wait`
 * waits until every system is done with it (this process runs the push workers itself when no
 * hub process does).
 */
import type { Command } from 'commander';
import type { Profile } from '../../profile/schema.js';
import { ensureWorkers, pollUntil, withHubSession } from '../hub-session.js';
import type { HubSession } from '../hub-session.js';
import { withSessionOptions } from '../privacy-session.js';
import type { SessionOptions } from '../privacy-session.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { Progress, progressStream } from '../progress.js';

const HELD = 'held until its first pull';

interface Options extends SessionOptions {
  wait?: boolean;
  json?: boolean;
}

/** The profile named by an id or an e-mail address (the merged profile for an id merged away). */
function findProfile(session: HubSession, ref: string): Promise<Profile | null> {
  return ref.includes('@') ? session.store.findProfile({ kind: 'email', value: ref }) : session.store.getProfile(ref);
}

async function push(io: CliIo, session: HubSession, ref: string, options: Options): Promise<number> {
  const profile = await findProfile(session, ref);
  if (!profile) {
    io.error(`concord push: no profile ${ref.includes('@') ? 'with that e-mail address' : `"${ref}"`}`);
    return 1;
  }
  const { engine, store } = session;
  const pushing = session.connectors.filter((c) => c.capabilities.push).map((c) => c.id);
  if (options.wait) await ensureWorkers(io, session, 'push', pushing);
  const queued = await engine.pushAgain(profile.id);
  // A connector still waiting for its first pull (pull-only, or a create held) pushes it only after that pull: not waited for.
  const held = await engine.pushHeld(profile.id);
  const waited = queued.filter((c) => !held.includes(c));
  await store.appendAudit({ actor: 'cli', action: 'profile.push_requested', profileId: profile.id, detail: { connectors: queued } });
  if (!options.wait || queued.length === 0) {
    if (options.json) io.log(JSON.stringify({ profileId: profile.id, queued, ...(held.length > 0 ? { held } : {}) }));
    else io.log(`${profile.id}: queued to be pushed again to ${queued.join(', ') || 'no system (none pushes)'}`);
    for (const c of options.json ? [] : held) io.log(`${profile.id} -> ${c}: ${HELD}`);
    return 0;
  }
  const progress = new Progress(progressStream(io), { label: `${profile.id}: push`, unit: 'systems' });
  let pending = waited;
  const ended = await pollUntil(io, async () => {
    pending = (await engine.pushAgainPending(profile.id)).filter((c) => waited.includes(c));
    progress.update(waited.length - pending.length, waited.length);
    return pending.length === 0;
  });
  progress.finish(ended ? `done: ${waited.length} systems` : `stopped waiting; ${pending.join(', ')} still to go`);
  // What each system holds now, or why it does not (a dead letter).
  const dead = await engine.deadLetters.list();
  const state = (c: string): string => {
    if (held.includes(c)) return HELD;
    if (pending.includes(c)) return 'pending';
    return dead.some((d) => d.connector === c && d.profileId === profile.id) ? 'dead-lettered' : 'done';
  };
  const outcome = Object.fromEntries(queued.map((c) => [c, state(c)]));
  if (options.json) io.log(JSON.stringify({ profileId: profile.id, queued, outcome }));
  else for (const [c, state] of Object.entries(outcome)) io.log(`${profile.id} -> ${c}: ${state}`);
  return ended ? (Object.values(outcome).includes('dead-lettered') ? 1 : 0) : 130;
}

export function register(program: Command, io: CliIo = processIo): void {
  withSessionOptions(program.command('push <profile>'))
    .description('push one profile (id or e-mail address) again, whole, to every system the hub pushes to')
    .option('--wait', 'wait until every system is done with it, with progress')
    .option('--json', 'print the result as JSON')
    .action((ref: string, options: Options) => withHubSession(io, 'push', options, (session) => push(io, session, ref, options)));
}
