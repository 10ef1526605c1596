/**
 * The first sync's direction (`initialSync` in YAML, `SyncConnector.initialSync`). Until an
 * instance's first full pull has finished:
 * - `pull-only`: nothing is pushed to the system. Its outbox rows and dirty profiles stay where
 *   they are (held, not lost); once the first pull finished, a push of what waited is queued;
 * - `push-only`: the first pull takes none of the system's values. It links the records of people
 *   the hub already knows (their ids and the values they hold go to the shadow, so pushes update
 *   them instead of creating duplicates) and saves the cursor, so later pulls are incremental;
 * - `both`: the first pull is ingested and pushes start at once.
 *
 * Under `both` and `push-only` a push creates no record in the system until then (`holdsCreates`):
 * the system may hold the person already, unlinked (a rep created them, and a system such as
 * Salesforce has no unique e-mail), and only that pull links the record; a create now would be a
 * duplicate. Those profiles wait in the push stage's held set (their outbox rows stay) and are
 * made dirty again when the pull finished; updates of records already linked go at once.
 *
 * Whether the first pull has finished is a marker kept beside the cursors (`<instance>:initial-pull`,
 * no migration: instance ids cannot hold `:`): `running` from the moment a pull starts without a
 * cursor, `done` once a pull ran to its end. An instance with a cursor and no marker (pulled before
 * this setting existed) counts as done, so changing the setting on a running hub changes nothing.
 */
import { z } from 'zod';
import type { CursorRepository } from '../store/contracts/cursors.js';
import type { SyncConnector } from './bind.js';

const Marker = z.object({ phase: z.enum(['running', 'done']), at: z.string() });

/** The cursor-table key of an instance's first-pull marker. */
export function initialPullKey(instance: string): string {
  return `${instance}:initial-pull`;
}

/**
 * Whether the instance's first full pull is still to finish: a pull started without a cursor has
 * not yet run to its end, or it never pulled at all.
 */
export async function firstPullPending(store: Pick<CursorRepository, 'getCursor'>, instance: string): Promise<boolean> {
  const raw = await store.getCursor(initialPullKey(instance));
  const marker = Marker.safeParse(raw);
  if (marker.success) return marker.data.phase === 'running';
  return (await store.getCursor(instance)) === null;
}

/** Notes that a first pull starts (the instance has no cursor yet). */
export async function markFirstPullStarted(store: Pick<CursorRepository, 'setCursor'>, instance: string): Promise<void> {
  await store.setCursor(initialPullKey(instance), { phase: 'running', at: new Date().toISOString() });
}

/** Notes that a pull of the instance ran to its end. */
export async function markFirstPullDone(store: Pick<CursorRepository, 'setCursor'>, instance: string): Promise<void> {
  await store.setCursor(initialPullKey(instance), { phase: 'done', at: new Date().toISOString() });
}

/** Pushes to this instance wait for its first full pull (`pull-only`, on a connector that pulls). */
export function waitsForFirstPull(connector: Pick<SyncConnector, 'initialSync' | 'capabilities'>): boolean {
  return connector.initialSync === 'pull-only' && connector.capabilities.pull;
}

/**
 * Pushes to this instance create no record until its first full pull finished (`both`,
 * `push-only`). Only on an instance whose pulls run on a `schedule`: without one no pull may ever
 * come (pulls then run only when an operator asks), and creates would wait for good.
 */
export function holdsCreates(connector: Pick<SyncConnector, 'initialSync' | 'capabilities' | 'schedule'>): boolean {
  return connector.initialSync !== 'pull-only' && connector.capabilities.pull && connector.schedule !== undefined;
}

/** The first pull of this instance links records only (`push-only`). */
export function firstPullLinksOnly(connector: Pick<SyncConnector, 'initialSync'>): boolean {
  return connector.initialSync === 'push-only';
}
