/**
 * The roles of a hub process (`concord start --role ...`): which parts of the hub it runs.
 *
 * Atomic roles:
 * - `api`: the HTTP server (webhook ingress, admin API, preference center, health, metrics);
 * - `ingest`: applies incoming changes (webhooks, pulls, the hub's own edits) to the store;
 * - `relay`: turns the store's outbox into push batches (and runs the safety-net sweep);
 * - `push`: writes changes to the connected systems (one queue per connector instance) and
 *   delivers outbound webhooks (`sync/webhooks-out`, from the store);
 * - `pull`: the scheduled reads of systems that are polled;
 * - `privacy`: the workers of data-subject requests (erasure, export, tracking).
 *
 * Aliases: `worker` is every role but `api`, `all` is every role. A process takes one name or
 * a comma-separated list (`api,push`); whitespace and repeats do no harm. Processes with
 * different roles share one Redis (key prefix) and one database, so the work can be split in
 * any way, e.g. `api,push` and `ingest,relay` on a 2-core machine.
 */
import { z } from 'zod';
import { closest } from '../config/suggest.js';
import type { EngineRoles } from '../sync/index.js';

/** The parts of the hub one process can run. */
export const AtomicRole = z.enum(['api', 'ingest', 'relay', 'push', 'pull', 'privacy']);
export type AtomicRole = z.infer<typeof AtomicRole>;

/** Names that stand for several atomic roles. */
export const RoleAlias = z.enum(['worker', 'all']);
export type RoleAlias = z.infer<typeof RoleAlias>;

/** Every name `--role` accepts: the atomic roles and the aliases. */
export const Role = z.enum([...AtomicRole.options, ...RoleAlias.options]);
export type Role = z.infer<typeof Role>;

/** The atomic roles, in the order they are listed and logged. */
export const ATOMIC_ROLES: readonly AtomicRole[] = AtomicRole.options;

/** Every name `--role` accepts. */
export const ROLES: readonly Role[] = Role.options;

/** What each alias stands for. */
export const ROLE_ALIASES: Readonly<Record<RoleAlias, readonly AtomicRole[]>> = {
  worker: ['ingest', 'relay', 'push', 'pull', 'privacy'],
  all: ATOMIC_ROLES,
};

/** What each role name stands for, one line each (the CLI's help lists them). */
export const ROLE_DESCRIPTIONS: Readonly<Record<Role, string>> = {
  api: 'the HTTP server: webhook ingress, admin API, preference center, health, metrics',
  ingest: "applies incoming changes (webhooks, pulls, the hub's own edits) to the store",
  relay: 'turns stored changes into push batches, one per connected system',
  push: 'writes the changes to the connected systems and delivers outbound webhooks',
  pull: 'the scheduled reads of polled systems',
  privacy: 'the data-subject-request workers (erasure, export, tracking)',
  worker: `= ${ROLE_ALIASES.worker.join(',')}`,
  all: '= every role',
};

/** The roles of one process: at least one atomic role, none twice. */
export const RoleSet = z.set(AtomicRole).min(1).readonly();
export type RoleSet = z.infer<typeof RoleSet>;

/** The outcome of `parseRoles`: the role set, or why the text is not one. */
export type ParsedRoles = { ok: true; roles: RoleSet } | { ok: false; message: string };

/** `api, ingest, relay, push, pull, privacy, worker (= ingest,relay,push,pull,privacy), all (= every role)`. */
export function describeValidRoles(): string {
  return [...ATOMIC_ROLES, `worker (= ${ROLE_ALIASES.worker.join(',')})`, 'all (= every role)'].join(', ');
}

/** The role set of the given atomic roles and aliases, in the canonical order of `ATOMIC_ROLES`. */
function expand(names: readonly Role[]): RoleSet {
  const wanted = new Set<AtomicRole>();
  for (const name of names) {
    const alias = RoleAlias.safeParse(name);
    if (alias.success) for (const role of ROLE_ALIASES[alias.data]) wanted.add(role);
    else wanted.add(AtomicRole.parse(name));
  }
  return RoleSet.parse(new Set(ATOMIC_ROLES.filter((role) => wanted.has(role))));
}

/**
 * Parses a `--role` value: one role or alias, or a comma-separated list of them (`api,push`,
 * ` ingest , relay `). Whitespace around names and empty list entries are ignored; repeats are
 * harmless. Never throws: an unknown name or a value without any role is returned as a message
 * that names the valid roles.
 *
 * @example parseRoles('api, push') // { ok: true, roles: Set { 'api', 'push' } }
 */
export function parseRoles(text: string): ParsedRoles {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) return { ok: false, message: `no role given; valid roles: ${describeValidRoles()}` };
  const names: Role[] = [];
  for (const item of items) {
    const parsed = Role.safeParse(item);
    if (!parsed.success) {
      const suggestion = closest(item, ROLES);
      const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
      return { ok: false, message: `unknown role ${JSON.stringify(item)}${hint}; valid roles: ${describeValidRoles()}` };
    }
    names.push(parsed.data);
  }
  return { ok: true, roles: expand(names) };
}

/**
 * The role set of a single role name (`'all'`, `'api'`, `'worker'`...) or of an already parsed
 * set (returned as it is). What `startHubProcess` accepts as its `role` option.
 */
export function toRoleSet(role: Role | RoleSet): RoleSet {
  return typeof role === 'string' ? expand([role]) : role;
}

/** Which of the sync engine's workers a process with these roles starts (for `engine.start`). */
export function toEngineRoles(roles: RoleSet): EngineRoles {
  return { ingest: roles.has('ingest'), relay: roles.has('relay'), push: roles.has('push'), pull: roles.has('pull') };
}

/** True when the roles include any of the sync engine's workers (ingest, relay, push, pull). */
export function runsEngineWorkers(roles: RoleSet): boolean {
  return Object.values(toEngineRoles(roles)).some(Boolean);
}

/**
 * A role set as a user would write it: `all` or `worker` when it is exactly one of the aliases,
 * otherwise the comma-separated atomic roles (`api,push`).
 */
export function formatRoles(roles: RoleSet): string {
  for (const alias of RoleAlias.options) {
    const members = ROLE_ALIASES[alias];
    if (members.length === roles.size && members.every((role) => roles.has(role))) return alias;
  }
  return ATOMIC_ROLES.filter((role) => roles.has(role)).join(',');
}
