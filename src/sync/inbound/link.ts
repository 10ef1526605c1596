/**
 * The first pull of a `push-only` instance (`initial-sync.ts`): records are linked, never
 * ingested. A record of a person the hub knows (by the record's id, or by an e-mail address or
 * phone number it carries) teaches that profile's shadow the record's id and the values it holds,
 * so the next push updates that record (instead of creating a second one) with the hub's values,
 * and the profile is marked dirty for it. A record of anyone else is left alone. No profile changes.
 */
import type { ExternalRecord } from '../../connector/define.js';
import { mapInbound } from '../../connector/mapping.js';
import type { SyncConnector } from '../bind.js';
import { markDirtyAndFlush } from '../context.js';
import type { EngineContext } from '../context.js';
import { instant, patchIdOf } from './assess.js';

/** Links a page of records of a first `push-only` pull; returns how many belonged to a known person. */
export async function linkRecords(
  ctx: EngineContext,
  connector: SyncConnector,
  records: readonly ExternalRecord[],
  receivedAt: string,
): Promise<number> {
  const live = records.filter((r) => r.deleted !== true);
  const byId = await ctx.store.findProfileIdsByExternalIds(
    connector.id,
    live.map((r) => r.externalId),
  );
  const links: { profileId: string; externalId: string; values: ReturnType<typeof mapInbound>['observed'] }[] = [];
  for (const [i, record] of live.entries()) {
    const mapped = mapInbound(connector.mapping, record, {
      source: connector.id,
      receivedAt: instant(receivedAt),
      patchId: patchIdOf(connector.id, record),
    });
    let profileId = byId[i] ?? null;
    for (const identity of mapped.patch.identities) {
      if (profileId !== null) break;
      if (identity.kind !== 'external') profileId = (await ctx.store.findProfile(identity))?.id ?? null;
    }
    if (profileId !== null) links.push({ profileId, externalId: record.externalId, values: mapped.observed });
  }
  if (links.length === 0) return 0;
  // Held against pushes to the system while the shadows learn (as ingest holds them).
  const refs = [...new Set(links.map((l) => l.profileId))].map((profileId) => ({ connector: connector.id, profileId }));
  const locked = await ctx.work.lockForIngest(refs, ctx.tuning.ingestLockMs);
  const held = refs.filter((_, k) => locked[k]);
  try {
    const heldIds = new Set(held.map((r) => r.profileId));
    for (const link of links) {
      // A profile a push holds right now is written by it: that push's outcome teaches the shadow.
      if (!heldIds.has(link.profileId)) continue;
      await ctx.store.updateShadow(link.profileId, connector.id, { externalId: link.externalId, values: link.values });
    }
  } finally {
    await ctx.work.unlockForIngest(held);
  }
  if (ctx.queues.push.has(connector.id)) {
    await markDirtyAndFlush(ctx, new Map([[connector.id, refs.map((r) => r.profileId)]]));
  }
  return links.length;
}
