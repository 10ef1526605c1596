/**
 * Acting as people in the three places a profile can be edited: a marketer in HubSpot, a rep
 * in Salesforce (the emulators' side doors) and an operator through the hub's admin API. Each
 * act is stamped with the wall clock at which it was made, on a millisecond of its own, so
 * "the newest edit wins" has one answer.
 */
import { MARKETING_SUBSCRIPTION } from './world.js';
import type { ChaosWorld } from './world.js';
import { nextMillisecond } from './os.js';
import type { Expected, Field, Person } from './state.js';

export type Place = 'hubspot' | 'salesforce' | 'admin';
export const PLACES: readonly Place[] = ['hubspot', 'salesforce', 'admin'];

export interface Edit {
  place: Place;
  /** The person's e-mail when the edit was made. */
  email: string;
  /** `email`: the person's address changed to `value` (see `changeEmail`). */
  field: Field | 'email';
  value: string;
  /** Wall-clock ms at which it was made (distinct per edit). */
  at: number;
  /** The Salesforce record a Salesforce edit saved. */
  recordId?: string;
  /** A Salesforce save the hub's update restamped before any report of it (`observableEdits`); `at` is then that stamp. */
  masked?: boolean;
}

export const emailOf = (i: number, tag = 'p'): string => `${tag}${i}@chaos.example.com`;

export interface CreateOptions {
  /**
   * `affirmative`: marketing e-mail explicitly subscribed (even i) or unsubscribed (odd i);
   * `none`: no subscription status at all (the person never chose). @defaultValue 'affirmative'
   */
  consent?: 'affirmative' | 'none';
  /** The person's phone number, if any. */
  phone?: (i: number) => string;
}

/**
 * Creates people in HubSpot as a marketer would: a contact with names, and (by default)
 * marketing e-mail explicitly subscribed (even i) or unsubscribed (odd i), so their consent is
 * an affirmative act in both directions. Returns what every system must end up holding for
 * them (with `consent: 'none'`, nothing about consent: the scenario says what it expects).
 */
export function createInHubSpot(world: ChaosWorld, count: number, tag = 'p', options: CreateOptions = {}): Expected {
  const expected: Expected = new Map();
  for (let i = 0; i < count; i++) {
    const email = emailOf(i, tag);
    const person: Person = { firstName: `First${i}`, lastName: `Last${i}` };
    if (options.phone) person.phone = options.phone(i);
    world.hubspot.sideDoor.createContact({
      email,
      firstname: person.firstName ?? null,
      lastname: person.lastName ?? null,
      ...(person.phone ? { phone: person.phone } : {}),
    });
    if ((options.consent ?? 'affirmative') === 'affirmative') {
      person.marketingEmail = i % 2 === 0 ? 'granted' : 'denied';
      if (person.marketingEmail === 'granted') world.hubspot.sideDoor.subscribe(email, MARKETING_SUBSCRIPTION);
      else world.hubspot.sideDoor.unsubscribe(email, MARKETING_SUBSCRIPTION);
    }
    expected.set(email, person);
  }
  return expected;
}

/** The property (HubSpot) or field (Salesforce) that holds a followed field other than consent. */
const HUBSPOT_PROPERTY: Record<Exclude<Field, 'marketingEmail'> | 'email', string> = {
  firstName: 'firstname',
  lastName: 'lastname',
  phone: 'phone',
  email: 'email',
};
export const SALESFORCE_FIELD: Record<Exclude<Field, 'marketingEmail'> | 'email', string> = {
  firstName: 'FirstName',
  lastName: 'LastName',
  phone: 'Phone',
  email: 'Email',
};

/** The marketing e-mail consent a place shows for a person now ('granted' / 'denied' / undefined). */
async function consentIn(world: ChaosWorld, place: Place, email: string): Promise<string | undefined> {
  if (place === 'hubspot') {
    const status = world.hubspot.sideDoor.statuses(email).find((s) => s['subscriptionId'] === MARKETING_SUBSCRIPTION)?.['status'];
    return status === 'SUBSCRIBED' ? 'granted' : status === 'UNSUBSCRIBED' ? 'denied' : undefined;
  }
  if (place === 'salesforce') {
    const record = world.salesforce.sideDoor.findByEmail(email);
    return record ? (record['HasOptedOutOfEmail'] === true ? 'denied' : 'granted') : undefined;
  }
  const { store } = await world.observe();
  return (await store.findProfile({ kind: 'email', value: email }))?.consents['marketing']?.['email']?.value;
}

/**
 * Makes one edit in a place. A consent edit flips what that place shows now (an edit that
 * changes nothing where it is made is no edit: no system reports it); a grant is never made in
 * Salesforce (see below), the returned `place` says where it was made. Throws when the place
 * refuses it (the person must already exist there).
 */
export async function edit(world: ChaosWorld, asked: Place, email: string, field: Field, value: string | 'flip'): Promise<Edit> {
  const flip = async (where: Place): Promise<string> => ((await consentIn(world, where, email)) === 'granted' ? 'denied' : 'granted');
  let v = value;
  let place = asked;
  if (field === 'marketingEmail' && value === 'flip') {
    v = await flip(asked);
    // Salesforce's Email Opt Out is withdraw-only: a rep ticking it withdraws consent, unticking
    // it grants nothing (no affirmative act). Such an edit is made in HubSpot instead.
    if (asked === 'salesforce' && v === 'granted') {
      place = 'hubspot';
      v = await flip(place);
    }
  }
  const at = nextMillisecond();
  let recordId: string | undefined;
  if (place === 'hubspot') {
    if (field === 'marketingEmail') {
      if (v === 'granted') world.hubspot.sideDoor.subscribe(email, MARKETING_SUBSCRIPTION);
      else world.hubspot.sideDoor.unsubscribe(email, MARKETING_SUBSCRIPTION);
    } else {
      const contact = world.hubspot.sideDoor.findByEmail(email);
      if (!contact) throw new Error(`${email} is not in HubSpot`);
      world.hubspot.sideDoor.editContact(contact.id, { [HUBSPOT_PROPERTY[field]]: v });
    }
  } else if (place === 'salesforce') {
    const record = world.salesforce.sideDoor.findByEmail(email);
    if (!record) throw new Error(`${email} is not in Salesforce`);
    const fields = field === 'marketingEmail' ? { HasOptedOutOfEmail: v === 'denied' } : { [SALESFORCE_FIELD[field]]: v };
    recordId = String(record['Id']);
    world.salesforce.sideDoor.update('Contact', recordId, fields);
  } else {
    if (field === 'phone') throw new Error('the chaos harness edits phones in HubSpot and Salesforce only');
    const { store } = await world.observe();
    const profile = await store.findProfile({ kind: 'email', value: email });
    if (!profile) throw new Error(`${email} is not in the hub`);
    const body = field === 'marketingEmail' ? { consents: { marketing: { email: { status: v } } } } : { attributes: { [field]: v } };
    const res = await world.admin('PATCH', `/profiles/${profile.id}`, body);
    if (res.status !== 200) throw new Error(`admin PATCH ${email} ${field}: ${res.status} ${JSON.stringify(res.json)}`);
  }
  nextMillisecond();
  return { place, email, field, value: v, at, ...(recordId === undefined ? {} : { recordId }) };
}

/**
 * Changes a person's e-mail address in HubSpot or Salesforce (the record keeps its id). The
 * person is known by the new address from then on (`applyEdits` moves them).
 */
export function changeEmail(world: ChaosWorld, place: 'hubspot' | 'salesforce', email: string, to: string): Edit {
  const at = nextMillisecond();
  if (place === 'hubspot') {
    const contact = world.hubspot.sideDoor.findByEmail(email);
    if (!contact) throw new Error(`${email} is not in HubSpot`);
    world.hubspot.sideDoor.editContact(contact.id, { email: to });
  } else {
    const record = world.salesforce.sideDoor.findByEmail(email);
    if (!record) throw new Error(`${email} is not in Salesforce`);
    world.salesforce.sideDoor.update('Contact', String(record['Id']), { Email: to });
    nextMillisecond();
    return { place, email, field: 'email', value: to, at, recordId: String(record['Id']) };
  }
  nextMillisecond();
  return { place, email, field: 'email', value: to, at };
}

/**
 * The expected state after some edits: per person and field, the newest edit wins; an e-mail
 * change moves the person to the new address.
 */
export function applyEdits(start: Expected, edits: readonly Edit[]): Expected {
  const out: Expected = new Map([...start].map(([email, person]) => [email, { ...person }]));
  // Old address -> new: an edit made by the old address (in a system not told yet) is the same person's.
  const moved = new Map<string, string>();
  const current = (email: string): string => {
    let e = email;
    for (let next = moved.get(e); next !== undefined; next = moved.get(e)) e = next;
    return e;
  };
  for (const e of [...edits].sort((x, y) => x.at - y.at)) {
    const email = current(e.email);
    const person = out.get(email) ?? {};
    if (e.field === 'email') {
      out.delete(email);
      out.set(e.value, person);
      moved.set(email, e.value);
      continue;
    }
    person[e.field] = e.value;
    out.set(email, person);
  }
  return out;
}
