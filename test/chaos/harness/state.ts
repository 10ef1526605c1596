/**
 * What every system holds at the end, per person (by e-mail), and the counts a scenario
 * reports: the final state of HubSpot, Salesforce and the hub, each compared with the merge of
 * what was done (`Expected`).
 *
 * - lost: a (system, person, field) whose value is not the expected one (a change that did not
 *   arrive there, or a person missing there);
 * - duplicated: records beyond one per person in a system (two Salesforce contacts with one
 *   e-mail, two hub profiles...);
 * - disagreements: (person, field) on which the three systems do not all hold the same value;
 * - wrongWinners: (person, field) on which they agree, on a value that is not the newest;
 * - echoWrites: writes of the hub to a system that changed nothing there (the emulators'
 *   `idleWrites`), but for `crossedWrites`: a value a person set to the one the hub was writing,
 *   between the hub's read of it and its write (a HubSpot status, a Salesforce field;
 *   `IdleWrite.crossed`), reported on their own.
 *
 * A person is known by e-mail in every system: HubSpot's and Salesforce's address field, the
 * hub's primary (newest) e-mail identity.
 */
import type { RunningHubSpotEmulator } from '../../../connectors/hubspot/emulator/index.js';
import type { RunningSalesforceEmulator } from '../../../connectors/salesforce/emulator/index.js';
import { toMergePolicy } from '../../../src/config/policy.js';
import { primaryIdentity } from '../../../src/profile/index.js';
import type { MergePolicy, Profile } from '../../../src/profile/schema.js';
import type { ChaosWorld } from './world.js';
import { MARKETING_SUBSCRIPTION } from './world.js';

/** The fields a scenario edits at random (the storm), in the hub's terms. */
export const FIELDS = ['firstName', 'lastName', 'marketingEmail'] as const;
/** Every field the systems are compared on: `FIELDS` and the primary phone (scenario (f)). */
export const ALL_FIELDS = [...FIELDS, 'phone'] as const;
export type Field = (typeof ALL_FIELDS)[number];
export type Person = Partial<Record<Field, string>>;
export const SYSTEMS = ['hub', 'hubspot', 'salesforce'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** e-mail -> the person's expected fields (the merge of what was done). */
export type Expected = Map<string, Person>;

export interface SystemView {
  /** e-mail -> the person's fields (the first record found for the address). */
  people: Map<string, Person>;
  /** e-mail -> how many records carry it. */
  records: Map<string, number>;
}

export type Observed = Record<SystemName, SystemView>;

function add(view: SystemView, email: string, person: Person): void {
  view.records.set(email, (view.records.get(email) ?? 0) + 1);
  if (!view.people.has(email)) view.people.set(email, person);
}

const empty = (): SystemView => ({ people: new Map(), records: new Map() });

/** HubSpot's contacts; marketing e-mail consent from the address's subscription status. */
export function readHubSpot(hubspot: RunningHubSpotEmulator): SystemView {
  const view = empty();
  for (const contact of hubspot.sideDoor.contacts()) {
    const email = contact.properties['email'];
    if (!email) continue;
    const status = hubspot.sideDoor.statuses(email).find((s) => s['subscriptionId'] === MARKETING_SUBSCRIPTION)?.['status'];
    const person: Person = {};
    if (contact.properties['firstname']) person.firstName = contact.properties['firstname'];
    if (contact.properties['lastname']) person.lastName = contact.properties['lastname'];
    if (contact.properties['phone']) person.phone = contact.properties['phone'];
    if (status === 'SUBSCRIBED') person.marketingEmail = 'granted';
    if (status === 'UNSUBSCRIBED') person.marketingEmail = 'denied';
    add(view, email, person);
  }
  return view;
}

/** Salesforce's contacts; marketing e-mail consent from `HasOptedOutOfEmail` (true = denied). */
export function readSalesforce(salesforce: RunningSalesforceEmulator): SystemView {
  const view = empty();
  for (const record of salesforce.sideDoor.list('Contact')) {
    const email = typeof record['Email'] === 'string' ? record['Email'].toLowerCase() : undefined;
    if (!email) continue;
    const person: Person = {};
    if (typeof record['FirstName'] === 'string' && record['FirstName']) person.firstName = record['FirstName'];
    if (typeof record['LastName'] === 'string' && record['LastName']) person.lastName = record['LastName'];
    if (typeof record['Phone'] === 'string' && record['Phone']) person.phone = record['Phone'];
    person.marketingEmail = record['HasOptedOutOfEmail'] === true ? 'denied' : 'granted';
    add(view, email, person);
  }
  return view;
}

function personOf(profile: Profile, policy: MergePolicy): Person {
  const person: Person = {};
  const first = profile.attributes['firstName']?.value;
  const last = profile.attributes['lastName']?.value;
  const consent = profile.consents['marketing']?.['email']?.value;
  const phone = primaryIdentity(profile.identities, { kind: 'phone' }, policy)?.value;
  if (typeof first === 'string') person.firstName = first;
  if (typeof last === 'string') person.lastName = last;
  if (consent) person.marketingEmail = consent;
  if (phone) person.phone = phone;
  return person;
}

/**
 * The hub's profiles (merged-away ids skipped), through the store, each under its primary
 * (newest) e-mail: older addresses stay on a profile as lookup keys, but are not the person's.
 */
export async function readHub(world: ChaosWorld): Promise<SystemView> {
  const { store } = await world.observe();
  const policy = toMergePolicy(world.config);
  const rows = await world.db.query<{ id: string }>('select id from profiles order by id');
  const profiles = await store.getProfiles(rows.map((r) => r.id));
  const view = empty();
  for (const [id, profile] of profiles) {
    if (profile.id !== id) continue;
    const email = primaryIdentity(profile.identities, { kind: 'email' }, policy)?.value;
    if (email) add(view, email, personOf(profile, policy));
  }
  return view;
}

export async function observe(world: ChaosWorld): Promise<Observed> {
  return { hub: await readHub(world), hubspot: readHubSpot(world.hubspot), salesforce: readSalesforce(world.salesforce) };
}

export interface Counts {
  lost: number;
  duplicated: number;
  disagreements: number;
  wrongWinners: number;
  echoWrites: number;
}

export interface Comparison {
  counts: Counts;
  /**
   * Cells whose newest edit depends on the order of a masked Salesforce save and another edit
   * (`observableEdits`): every system holds the same one of the two values.
   */
  maskedOrders: number;
  /** HubSpot statuses a person set to the value the hub was writing, between its read and its write (not echo writes). */
  crossedWrites: number;
  /** One line per cell that differs from the expected state (empty when all is well). */
  mismatches: string[];
}

/**
 * Compares every system with the expected state; `echoWrites` from the emulators since `since`
 * (ms). `alternative`: the state expected from the edits as the systems could order them
 * (`applyEdits(start, observableEdits(world, edits))`); a cell where it differs may hold either
 * value, the same in every system.
 */
export function compare(world: ChaosWorld, expected: Expected, observed: Observed, since: number, alternative?: Expected): Comparison {
  const mismatches: string[] = [];
  let maskedOrders = 0;
  let lost = 0;
  let duplicated = 0;
  let disagreements = 0;
  let wrongWinners = 0;
  for (const system of SYSTEMS) {
    const view = observed[system];
    for (const [email, n] of view.records) {
      if (n > 1) {
        duplicated += n - 1;
        mismatches.push(`${system} ${email}: ${n} records`);
      }
      if (!expected.has(email)) mismatches.push(`${system} ${email}: not expected at all`);
    }
  }
  for (const [email, want] of expected) {
    for (const field of ALL_FIELDS) {
      if (want[field] === undefined) continue;
      const got = SYSTEMS.map((s) => observed[s].people.get(email)?.[field]);
      const other = alternative?.get(email)?.[field];
      if (other !== undefined && other !== want[field] && new Set(got).size === 1 && got[0] === other) {
        maskedOrders++;
        continue;
      }
      got.forEach((value, i) => {
        if (value !== want[field]) {
          lost++;
          mismatches.push(`${SYSTEMS[i] ?? '?'} ${email} ${field}: got ${JSON.stringify(value)}, want ${JSON.stringify(want[field])}`);
        }
      });
      if (new Set(got).size > 1) disagreements++;
      else if (got[0] !== want[field]) wrongWinners++;
    }
  }
  const idle = [
    ...world.hubspot.sideDoor.idleWrites().filter((w) => w.at >= since),
    ...world.salesforce.sideDoor.idleWrites().filter((w) => Date.parse(w.at) >= since),
  ];
  const crossedWrites = idle.filter((w) => w.crossed === true).length;
  const echoWrites = idle.length - crossedWrites;
  return { counts: { lost, duplicated, disagreements, wrongWinners, echoWrites }, maskedOrders, crossedWrites, mismatches };
}

/** Each mismatch with the edits made to that person and field, oldest first, so a failure explains itself. */
export function explain(
  mismatches: readonly string[],
  edits: readonly { place: string; email: string; field: string; value: string; at: number }[],
): string[] {
  return mismatches.map((line) => {
    const [, email, field] = line.replace(':', '').split(' ');
    const history = edits
      .filter((e) => e.email === email && e.field === field)
      .sort((x, y) => x.at - y.at)
      .map((e) => `${e.place}:${e.value}@${e.at}`);
    return history.length > 0 ? `${line}; edits: ${history.join(' ')}` : line;
  });
}

/** The report line of a scenario run (printed by the chaos suite, one per scenario/topology/dialect). */
export function reportLine(scenario: string, world: ChaosWorld, counts: Counts, extra: Record<string, string | number> = {}): string {
  const fields = { ...counts, ...extra };
  return `chaos: scenario=${scenario} topology=${world.options.topology} dialect=${world.options.dialect} ${Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`;
}

/**
 * The views with one field rewritten per system and person, e.g. to a verdict ("not
 * subscribed") where what counts differs by system (an opt-out flag set, a status not set).
 */
export function mapField(
  observed: Observed,
  field: Field,
  f: (system: SystemName, email: string, value: string | undefined) => string | undefined,
): Observed {
  const out = {} as Observed;
  for (const system of SYSTEMS) {
    const view = observed[system];
    const people = new Map<string, Person>();
    for (const [email, person] of view.people) {
      const next: Person = { ...person };
      const value = f(system, email, person[field]);
      if (value === undefined) delete next[field];
      else next[field] = value;
      people.set(email, next);
    }
    out[system] = { people, records: view.records };
  }
  return out;
}

/**
 * For a failure message: what each system holds for the people named in `mismatches` (the
 * hub's attributes and consent with source and time, Salesforce's and HubSpot's fields with
 * who changed the record last and when).
 */
export async function diagnose(world: ChaosWorld, mismatches: readonly string[]): Promise<string[]> {
  const { store } = await world.observe();
  const emails = [...new Set(mismatches.map((line) => line.split(' ')[1]?.replace(/:$/, '') ?? ''))].filter(Boolean);
  return Promise.all(
    emails.map(async (email) => {
      const profile = await store.findProfile({ kind: 'email', value: email });
      const slots: Record<string, { value?: unknown; at?: string; source?: string } | undefined> = profile
        ? { ...profile.attributes, marketingEmail: profile.consents['marketing']?.['email'] }
        : {};
      const hub = Object.entries(slots).map(([k, slot]) => `${k}=${JSON.stringify(slot?.value)}@${slot?.at ?? '?'}/${slot?.source ?? '?'}`);
      const sf = world.salesforce.sideDoor.findByEmail(email);
      const hs = world.hubspot.sideDoor.findByEmail(email);
      return [
        `${email}:`,
        `hub {${hub.join(' ')}}`,
        `salesforce {FirstName=${String(sf?.['FirstName'])} LastName=${String(sf?.['LastName'])} HasOptedOutOfEmail=${String(sf?.['HasOptedOutOfEmail'])} modified ${String(sf?.['LastModifiedDate'])} by ${String(sf?.['LastModifiedById'])}}`,
        `hubspot {${JSON.stringify(hs?.properties ?? null)}}`,
      ].join(' ');
    }),
  );
}
