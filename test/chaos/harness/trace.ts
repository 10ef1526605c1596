/**
 * For a failed scenario: the whole story of each cell (person, field) that ended wrong, in time
 * order, so a rare failure seen once in CI can be traced from its log alone: the edits made, each
 * value the hub was offered with who won and why (its profile history), and Salesforce's change
 * log and Outbound Message deliveries of the person's record.
 */
import type { Edit } from './people.js';
import { SALESFORCE_FIELD } from './people.js';
import type { ChaosWorld } from './world.js';

const time = (ms: number): string => new Date(ms).toISOString().slice(11, 23);

/** One line per event of each mismatched cell (`compare`'s mismatch lines: `<system> <email>: <field> ...`). */
export async function traceCells(world: ChaosWorld, mismatches: readonly string[], edits: readonly Edit[]): Promise<string[]> {
  const cells = new Map<string, { email: string; field: string }>();
  for (const line of mismatches) {
    const [, email, field] = line.replace(':', '').split(' ');
    if (email && field) cells.set(`${email} ${field}`, { email, field });
  }
  const { store } = await world.observe();
  const door = world.salesforce.sideDoor;
  const out: string[] = [];
  for (const { email, field } of cells.values()) {
    const events: { at: number; line: string }[] = [];
    for (const e of edits.filter((x) => x.email === email && x.field === field))
      events.push({ at: e.at, line: `edit ${e.place} ${e.value}${e.masked ? ' (masked)' : ''}` });
    const profile = await store.findProfile({ kind: 'email', value: email });
    const path = field === 'marketingEmail' ? 'marketing.email' : field;
    for (const h of profile ? await store.profileHistory(profile.id) : []) {
      if (h.path !== path) continue;
      const offered = `${JSON.stringify(h.offered.value)}@${h.offered.at.slice(11, 23)}/${h.offered.source}`;
      const previous = h.previous ? `${JSON.stringify(h.previous.value)}@${h.previous.at.slice(11, 23)}/${h.previous.source}` : 'none';
      events.push({
        at: Date.parse(h.recordedAt),
        line: `hub ${h.outcome} (${h.reason}) offered ${offered} over ${previous} by ${h.actor}`,
      });
    }
    const record = door.findByEmail(email);
    const id = record ? String(record['Id']) : undefined;
    if (id !== undefined) {
      for (const c of door.changes().filter((x) => x.id === id))
        events.push({ at: Date.parse(c.at), line: `salesforce ${c.kind} by ${c.userId}${c.client ? ` (${c.client})` : ''}` });
      const notes = new Set(
        door
          .notifications()
          .filter((n) => n.recordId === id)
          .map((n) => n.id),
      );
      for (const d of door.webhookDeliveries().filter((x) => x.notificationIds.some((n) => notes.has(n))))
        events.push({
          at: d.sentAt,
          line: `salesforce outbound message sent (attempt ${d.attempt}, answered ${String(d.status)} at ${time(d.at)})`,
        });
      const sfField = field === 'marketingEmail' ? 'HasOptedOutOfEmail' : SALESFORCE_FIELD[field as keyof typeof SALESFORCE_FIELD];
      for (const o of door.blindOverwrites().filter((x) => x.id === id && x.fields.includes(sfField)))
        events.push({ at: Date.parse(o.at), line: `salesforce blind overwrite of ${o.fields.join(',')}` });
    }
    out.push(`${email} ${field}:`, ...events.sort((x, y) => x.at - y.at).map((e) => `  ${time(e.at)} ${e.line}`));
  }
  return out;
}
