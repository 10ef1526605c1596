/**
 * `concord profile <email|phone|id> [--history [--limit N]] [--json] [--reveal]`: one person's profile as
 * the hub holds it, every value with the source that set it and when; with `--history`, every
 * change any system sent and why it won or lost (the same explanation as
 * `GET /api/v1/profiles/{id}/history`), the newest 200 entries unless `--limit N`. Read-only: it opens the database and nothing else (no migration runs; a SQLite file that
 * does not exist is not created).
 *
 * Standard output is not a log, but a terminal is scrolled back, pasted into tickets and
 * recorded: e-mail addresses and phone numbers are masked (`a***@example.com`, `+44******00`)
 * wherever they appear, identities and values alike, unless `--reveal`. The lookup itself takes
 * the address in full.
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { openStoreForReading } from '../../app/store.js';
import { toMergePolicy } from '../../config/policy.js';
import { isPrimaryIdentity } from '../../profile/identities.js';
import type { Json, MergePolicy, Profile } from '../../profile/schema.js';
import { groupHistory } from '../../server/api/history-operations.js';
import type { HistoryEntryView, ProfileHistory } from '../../server/api/history-operations.js';
import type { Store } from '../../store/index.js';
import { connectorsFromConfig } from '../../sync/index.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';
import { commandLogger, loadSessionConfig, withSessionOptions } from '../privacy-session.js';
import type { SessionOptions } from '../privacy-session.js';

type Options = SessionOptions & { history?: boolean; json?: boolean; reveal?: boolean; limit: number };

/** History entries `--history` shows by default (the newest). */
const DEFAULT_HISTORY_LIMIT = 200;

/** `ada@example.com` -> `a***@example.com`; `+4930123456` -> `+49*******56`, wherever they appear in `text`. */
export function maskContacts(text: string): string {
  return text
    .replace(/([^\s"'<>,;:[\]()@])[^\s"'<>,;:[\]()@]*@([^\s"'<>,;:[\]()@]+)/g, '$1***@$2')
    .replace(
      /\+(\d{2})([\d ]{3,15})(\d{2})(?!\d)/g,
      (_m, head: string, middle: string, tail: string) => `+${head}${'*'.repeat(middle.length)}${tail}`,
    );
}

/** The profile an argument names: an e-mail address, a phone number (`+...`) or a profile id. */
async function findProfile(store: Store, who: string): Promise<Profile | null> {
  if (who.includes('@')) return store.findProfile({ kind: 'email', value: who });
  if (/^\+\d/.test(who)) return store.findProfile({ kind: 'phone', value: who });
  return store.getProfile(who);
}

const show = (value: Json): string => JSON.stringify(value);
const stamp = (s: { source: string; at: string }): string => `${s.source}, ${s.at}`;

function describeProfile(profile: Profile, policy: MergePolicy): string[] {
  const lines = [`profile ${profile.id} (version ${profile.version})`, 'identities'];
  for (const i of profile.identities) {
    const kind = i.kind === 'external' ? `external ${i.system ?? ''}` : i.kind;
    lines.push(`  ${kind}  ${i.value}${isPrimaryIdentity(i, profile.identities, policy) ? '  primary' : ''}  (${stamp(i)})`);
  }
  lines.push('attributes');
  for (const [path, s] of Object.entries(profile.attributes).sort(([a], [b]) => (a < b ? -1 : 1)))
    lines.push(`  ${path}  ${show(s.value)}  (${stamp(s)})`);
  lines.push('consents');
  for (const [purpose, channels] of Object.entries(profile.consents))
    for (const [channel, s] of Object.entries(channels)) lines.push(`  ${purpose}.${channel}  ${s.value}  ${s.legalBasis}  (${stamp(s)})`);
  lines.push('subscriptions');
  for (const [topic, s] of Object.entries(profile.subscriptions)) lines.push(`  ${topic}  ${show(s.value)}  (${stamp(s)})`);
  const rights = [
    ...(profile.rights.restricted ? [['restricted', profile.rights.restricted] as const] : []),
    ...Object.entries(profile.rights.objections).map(([kind, s]) => [`objections.${kind}`, s] as const),
  ];
  if (rights.length > 0) lines.push('rights', ...rights.map(([path, s]) => `  ${path}  ${show(s.value)}  (${stamp(s)})`));
  return lines;
}

function describeEntry(e: HistoryEntryView): string {
  const why =
    e.previous === null ? '' : ` (${e.outcome === 'won' ? 'replaced' : 'kept'} ${show(e.previous.value)} from ${stamp(e.previous)})`;
  return `    ${e.at}  ${e.source}  ${show(e.value)}  ${e.outcome} ${e.reason}${why}${e.actor === e.source ? '' : `  by ${e.actor}`}`;
}

function describeHistory(history: ProfileHistory, limit: number): string[] {
  const lines = ['history: every change, the source and time it happened at, and why it won or lost (oldest first)'];
  if (history.truncated) lines.push(`  (older entries left out: --limit ${limit} shows the newest ${limit}; raise it to see more)`);
  const groups = [
    ['identity', history.identities],
    ['attribute', history.attributes],
    ['consent', history.consents],
    ['subscription', history.subscriptions],
    ['right', history.rights],
  ] as const;
  for (const [kind, byPath] of groups)
    for (const [path, entries] of Object.entries(byPath).sort(([a], [b]) => (a < b ? -1 : 1)))
      lines.push(`  ${kind} ${path}`, ...entries.map(describeEntry));
  return lines;
}

/** The newest `limit` history entries, grouped as the API does (`truncated` when there were more). */
async function historyOf(store: Store, profileId: string, limit: number): Promise<ProfileHistory> {
  const entries = await store.profileHistory(profileId, { limit: limit + 1 });
  const truncated = entries.length > limit;
  return groupHistory(profileId, truncated ? entries.slice(1) : entries, truncated);
}

async function run(io: CliIo, who: string, options: Options): Promise<number> {
  const config = await loadSessionConfig(io, options);
  if (!config) return 1;
  const { store } = await openStoreForReading(config, connectorsFromConfig(config, builtinConnectors), commandLogger(io));
  try {
    const profile = await findProfile(store, who);
    if (!profile) {
      io.error(`no profile for ${options.reveal ? who : maskContacts(who)}`);
      return 1;
    }
    const policy = toMergePolicy(config);
    const history = options.history ? await historyOf(store, profile.id, options.limit) : undefined;
    const text = options.json
      ? JSON.stringify({ profile, ...(history ? { history } : {}) }, null, 2)
      : [...describeProfile(profile, policy), ...(history ? describeHistory(history, options.limit) : [])].join('\n');
    io.log(options.reveal ? text : maskContacts(text));
    return 0;
  } finally {
    await store.close();
  }
}

/** `--limit`: 1 to 10 000, as the history API's `limit`. */
function historyLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new InvalidArgumentError('expected a whole number from 1 to 10000');
  return n;
}

export function register(program: Command, io: CliIo = processIo): void {
  withSessionOptions(program.command('profile <who>'))
    .description(
      'print a profile (by e-mail, phone or id): every value with its source and time; --history says why each change won or lost',
    )
    .option('--history', 'every change any system sent, and why it won or lost')
    .option(
      '--limit <n>',
      `with --history, at most this many entries, the newest (default ${DEFAULT_HISTORY_LIMIT})`,
      historyLimit,
      DEFAULT_HISTORY_LIMIT,
    )
    .option('--json', 'print as JSON (the history as GET /api/v1/profiles/{id}/history answers it)')
    .option('--reveal', 'print e-mail addresses and phone numbers in full (masked by default)')
    .action(async (who: string, options: Options) => {
      try {
        io.exit(await run(io, who, options));
      } catch (err) {
        io.error(`concord profile: ${err instanceof Error ? err.message : String(err)}`);
        io.exit(1);
      }
    });
}
