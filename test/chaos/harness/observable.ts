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
 */
import type { ChaosWorld } from './world.js';
import type { Edit } from './people.js';

/** The edits, each Salesforce save masked by a hub update restamped with that update's time. */
export function observableEdits(world: ChaosWorld, edits: readonly Edit[]): Edit[] {
  const door = world.salesforce.sideDoor;
  const integration = world.salesforce.options.integrationUserId;
  const changes = door.changes();
  const recordOf = new Map(door.notifications().map((n) => [n.id, n.recordId]));
  const sentAt = (recordId: string): number[] =>
    door
      .webhookDeliveries()
      .filter((d) => d.notificationIds.some((id) => recordOf.get(id) === recordId))
      .map((d) => d.at);
  return edits.map((e) => {
    if (e.place !== 'salesforce' || e.recordId === undefined) return e;
    const id = e.recordId;
    const own = changes.findIndex((c) => c.id === id && c.userId !== integration && Date.parse(c.at) >= e.at);
    const next = own < 0 ? undefined : changes.slice(own + 1).find((c) => c.id === id);
    if (!next || next.userId !== integration) return e;
    const savedAt = Date.parse(changes[own]?.at ?? '');
    const restampedAt = Date.parse(next.at);
    // An Outbound Message sent between the save and the hub's update carried the save's own stamp.
    if (sentAt(id).some((t) => t >= savedAt && t < restampedAt)) return e;
    return { ...e, at: restampedAt, masked: true };
  });
}
