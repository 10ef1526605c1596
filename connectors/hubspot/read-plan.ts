/**
 * How a read asks HubSpot for contacts. A value must carry the time it was set (`toRecord`):
 * HubSpot gives it with the property's history, but returns at most 50 contacts per read that
 * asks for history, against 100 without. A contact not changed since its creation needs no
 * history: every value it holds was set when it was created, so its `createdate` (which is
 * then its `lastmodifieddate`) stamps them all exactly. Contacts just created in HubSpot, the
 * most read, are so read 100 per call; the others are read again with their history
 * (`ReadPlanner` picks the cheaper way for each read).
 */
/** What a contact read says of when the contact was created and last changed. */
export interface ContactTimes {
  properties: Record<string, string | null>;
  createdAt?: Date;
  updatedAt: Date;
}

/** Whether the contact has not changed since it was created (HubSpot says when, to the millisecond). */
export function untouchedSinceCreation(contact: ContactTimes): boolean {
  if (contact.createdAt === undefined) return false;
  const created = contact.createdAt.getTime();
  const modified = contact.properties.lastmodifieddate;
  const modifiedMs = modified ? Date.parse(modified) : Number.NaN;
  return created === contact.updatedAt.getTime() && (Number.isNaN(modifiedMs) || modifiedMs === created);
}

/** Contacts over which the share of changed ones is averaged (about). */
const WINDOW = 1_000;

/**
 * Chooses, for each read of `count` contacts, between reading values first (100 per call,
 * then the contacts changed since their creation again with their history, 50 per call) and
 * reading them all with their history (50 per call): values first is taken when its expected
 * calls, `ceil(count / 100) + s * count / 50`, are fewer than `ceil(count / 50)`, where s is
 * the share of contacts changed since their creation. So never for 50 contacts or fewer (one
 * call either way), and not once most contacts read lately had changed. s is learnt from what
 * the reads find (a moving average over about the last `WINDOW` contacts); it starts at 0.
 */
export class ReadPlanner {
  private changedShare = 0;

  constructor(
    private readonly batch: number,
    private readonly historyBatch: number,
  ) {}

  /** Whether a read of `count` contacts should ask for values first. */
  valuesFirst(count: number): boolean {
    const valuesFirst = Math.ceil(count / this.batch) + (this.changedShare * count) / this.historyBatch;
    return valuesFirst < Math.ceil(count / this.historyBatch);
  }

  /** Notes what a read found: `changed` of `contacts` had changed since their creation. */
  observe(contacts: number, changed: number): void {
    if (contacts <= 0) return;
    const weight = Math.min(1, contacts / WINDOW);
    this.changedShare = this.changedShare * (1 - weight) + (changed / contacts) * weight;
  }
}
