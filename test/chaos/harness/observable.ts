/**
 * When each edit can be known to have been made, from what the systems report. Salesforce keeps
 * one stamp per record (`SystemModstamp`, no time per field), and an Outbound Message carries the
 * record as it is when sent. A rep's save that the hub's own update of the same record lands on
 * before any Outbound Message about the save went out is reported to everyone under the stamp of
 * the hub's update: no Salesforce call makes that update conditional (see storm.test.ts), and no
 * report of the save carries its own time. So the order of that save and an edit made elsewhere
 * between the save and the hub's update is not knowable by the hub (nor by anyone reading
 * Salesforce).
 *
 * `observableEdits` gives such a save the stamp Salesforce reports it under (a masked save); the
 * expected state computed from those stamps is the other acceptable outcome of a cell whose
 * newest edit depends on that order (`compare`'s `alternative`): every system must still hold the
 * same value, one of the two.
 *
 * When that update of the hub also wrote the saved field, the save is gone unseen (a blind
 * overwrite, `blindOverwrites()` of the emulator): the hub read the record, the rep saved, the
 * update landed, and no report of the rep's value exists. Such a save is left out of the edits
 * the systems could know. It can only happen to a field with more than two values: the hub
 * writes a field only when its value differs from what the read showed, so a rep's change of a
 * two-valued field (an opt-out flag) in that window makes it equal to the hub's (a crossed write).
 */
import type { ChaosWorld } from './world.js';
import { SALESFORCE_FIELD, type Edit } from './people.js';

/** The edits, each Salesforce save masked by a hub update restamped with that update's time. */
export function observableEdits(world: ChaosWorld, edits: readonly Edit[]): Edit[] {
  const overwrites = world.salesforce.sideDoor.blindOverwrites();
  const door = world.salesforce.sideDoor;
  const integration = world.salesforce.options.integrationUserId;
  const changes = door.changes();
  const recordOf = new Map(door.notifications().map((n) => [n.id, n.recordId]));
  const sentAt = (recordId: string): number[] =>
    door
      .webhookDeliveries()
      .filter((d) => d.notificationIds.some((id) => recordOf.get(id) === recordId))
      .map((d) => d.at);
  return edits.flatMap((e): Edit[] => {
    if (e.place !== 'salesforce' || e.recordId === undefined) return [e];
    const id = e.recordId;
    const own = changes.findIndex((c) => c.id === id && c.userId !== integration && Date.parse(c.at) >= e.at);
    const next = own < 0 ? undefined : changes.slice(own + 1).find((c) => c.id === id);
    if (!next || next.userId !== integration) return [e];
    const savedAt = Date.parse(changes[own]?.at ?? '');
    const restampedAt = Date.parse(next.at);
    // An Outbound Message sent between the save and the hub's update carried the save's own stamp.
    if (sentAt(id).some((t) => t >= savedAt && t < restampedAt)) return [e];
    const field = e.field === 'marketingEmail' ? 'HasOptedOutOfEmail' : SALESFORCE_FIELD[e.field];
    if (overwrites.some((o) => o.id === id && o.at === next.at && o.fields.includes(field))) return [];
    return [{ ...e, at: restampedAt, masked: true }];
  });
}
