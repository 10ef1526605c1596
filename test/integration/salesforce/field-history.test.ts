/**
 * Field History Tracking. The emulator: a tracked field's change is a `ContactHistory` row (old
 * and new value, who, when), read with jsforce; the history object cannot be written and does not
 * exist while no field is tracked. The connector (`fieldHistory: true`): a record read after two
 * saves stamps a field only the first save changed with that save's time (`fieldsAt`; the chaos
 * storm's lost admin edit: a rep's name edit, then the same rep's other edit, read back together,
 * took the second time and beat an edit made between them elsewhere), and reads on without the
 * history when the org cannot give it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from 'jsforce';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExternalRecord } from '../../../src/connector/define.js';
import { SalesforceApi } from '../../../connectors/salesforce/api.js';
import { SalesforceConfig } from '../../../connectors/salesforce/config.js';
import { SalesforceReader, type FieldChanges } from '../../../connectors/salesforce/read.js';
import { CLIENT_ID, CLIENT_SECRET, silentLogger, startTestOrg, type SalesforceTestOrg } from './harness.js';

let org: SalesforceTestOrg | undefined;
afterEach(async () => {
  await org?.close();
  org = undefined;
});

const TRACKED = ['FirstName', 'LastName', 'HasOptedOutOfEmail'];

async function jsforce(o: SalesforceTestOrg): Promise<Connection> {
  const conn = new Connection({
    loginUrl: o.emulator.url,
    version: '62.0',
    oauth2: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, loginUrl: o.emulator.url },
  });
  await conn.authorize({ grant_type: 'client_credentials' });
  return conn;
}

/** When each field of the person took its value, by the records a read gave (a field's own stamp, else its record's). */
function fieldTimes(records: readonly ExternalRecord[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of records) for (const name of Object.keys(r.fields)) out[name] = r.fieldsAt?.[name] ?? r.at;
  return out;
}

describe('Salesforce field history', () => {
  it('the emulator keeps a ContactHistory row per tracked field change, read-only, only while a field is tracked', async () => {
    org = await startTestOrg({ outbound: false, emulator: { fieldHistory: TRACKED } });
    const conn = await jsforce(org);
    const created = await conn.sobject('Contact').create({ LastName: 'Hopper', FirstName: 'Grace', Email: 'grace@example.com' });
    if (!created.success) throw new Error('create failed');
    org.emulator.sideDoor.update('Contact', created.id, { FirstName: 'Amazing', Title: 'Rear Admiral' });
    await conn.sobject('Contact').update({ Id: created.id, HasOptedOutOfEmail: true });
    const rows = await conn.query<Record<string, unknown>>(
      `SELECT ContactId, Field, OldValue, NewValue, CreatedById FROM ContactHistory WHERE ContactId = '${created.id}' ORDER BY CreatedDate, Id`,
    );
    const { integrationUserId, repUserId } = org.emulator.options;
    expect(rows.records.map(({ attributes: _a, ...r }) => r)).toEqual([
      { ContactId: created.id, Field: 'created', OldValue: null, NewValue: null, CreatedById: integrationUserId },
      // Title is not tracked.
      { ContactId: created.id, Field: 'FirstName', OldValue: 'Grace', NewValue: 'Amazing', CreatedById: repUserId },
      { ContactId: created.id, Field: 'HasOptedOutOfEmail', OldValue: false, NewValue: true, CreatedById: integrationUserId },
    ]);
    await expect(conn.sobject('ContactHistory').create({ ContactId: created.id, Field: 'FirstName' })).rejects.toMatchObject({
      errorCode: 'INVALID_TYPE_FOR_OPERATION',
    });

    const untracked = await startTestOrg({ outbound: false });
    try {
      await expect((await jsforce(untracked)).query('SELECT Id FROM ContactHistory')).rejects.toThrow(/ContactHistory/);
    } finally {
      await untracked.close();
    }
  });

  it('a field an earlier save changed keeps its time when the record is read after a later save', async () => {
    org = await startTestOrg({ outbound: false, emulator: { fieldHistory: [...TRACKED, 'Email'] } });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Hopper', FirstName: 'Grace', Email: 'grace@example.com' })['Id']);
    await sleep(5);
    const firstSave = String(door.update('Contact', id, { FirstName: 'F74' })['LastModifiedDate']);
    await sleep(20);
    const secondSave = String(door.update('Contact', id, { LastName: 'L80', Email: 'g.hopper@example.com' })['LastModifiedDate']);
    expect(Date.parse(secondSave)).toBeGreaterThan(Date.parse(firstSave));
    const iso = (t: string): string => new Date(t).toISOString();

    const signal = new AbortController().signal;
    const withHistory = (await org.instance({ fieldHistory: true }).read?.([`Contact:${id}`], signal)) ?? [];
    // One record, stamped with its last save; each field with its own change (the e-mail too).
    expect(withHistory).toHaveLength(1);
    expect(withHistory[0]).toMatchObject({ at: iso(secondSave), echo: false, fields: { Email: 'g.hopper@example.com' } });
    expect(fieldTimes(withHistory)).toMatchObject({ FirstName: iso(firstSave), LastName: iso(secondSave), Email: iso(secondSave) });

    // Without it, the record's one stamp is all there is.
    const without = (await org.instance().read?.([`Contact:${id}`], signal)) ?? [];
    expect(fieldTimes(without)).toMatchObject({ FirstName: iso(secondSave), LastName: iso(secondSave) });
    expect(without[0]?.fieldsAt).toBeUndefined();
  });

  // Chaos (e), traced (session 18): our save of LastName, then a rep's save of another field; the
  // record read back was the rep's (`echo: false`), and our own LastName, stamped by our save, was
  // taken for someone's newer choice. The field's history row names its author.
  it("names the fields whose last change was the integration user's in a record someone else saved last", async () => {
    org = await startTestOrg({ outbound: false, emulator: { fieldHistory: TRACKED } });
    const door = org.emulator.sideDoor;
    const id = String(door.create('Contact', { LastName: 'Hopper', FirstName: 'Grace', Email: 'grace@example.com' })['Id']);
    const signal = new AbortController().signal;
    const instance = org.instance({ fieldHistory: true });
    const [pushed] = (await instance.push?.([{ profileId: 'p1', externalId: id, fields: { LastName: 'L38' } }], signal)) ?? [];
    expect(pushed).toMatchObject({ status: 'ok' });
    await sleep(5);
    door.update('Contact', id, { FirstName: 'Rep' });

    const [record] = (await instance.read?.([`Contact:${id}`], signal)) ?? [];
    expect(record).toMatchObject({ echo: false, fields: { LastName: 'L38', FirstName: 'Rep' }, echoFields: ['LastName'] });
    // Once the rep changes that field too, it is theirs.
    door.update('Contact', id, { LastName: 'L40' });
    const [again] = (await instance.read?.([`Contact:${id}`], signal)) ?? [];
    expect(again?.echo).toBe(false);
    expect(again?.echoFields).toBeUndefined();
  });

  it('reads on without the history when the org tracks no field', async () => {
    org = await startTestOrg({ outbound: false });
    const id = String(
      org.emulator.sideDoor.create('Contact', { LastName: 'Hopper', FirstName: 'Grace', Email: 'grace@example.com' })['Id'],
    );
    const instance = org.instance({ fieldHistory: true });
    const signal = new AbortController().signal;
    for (const ids of [[`Contact:${id}`], [id]]) {
      const records = (await instance.read?.(ids, signal)) ?? [];
      expect(records.find((r) => r.fields['FirstName'] !== undefined)).toMatchObject({ externalId: id, fields: { FirstName: 'Grace' } });
      expect(records.every((r) => r.fieldsAt === undefined)).toBe(true);
    }
  });

  it('gives a field the time of its last change only when that change set the value read, no later than the record', () => {
    const config = SalesforceConfig.parse({ loginUrl: 'http://127.0.0.1:1', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const reader = new SalesforceReader(new SalesforceApi(config, { instanceId: 'salesforce', logger: silentLogger }), config);
    const record = {
      Id: '0035e00000AbCdEAAZ',
      FirstName: 'Ada',
      LastName: 'Lovelace',
      Email: 'ada@example.com',
      HasOptedOutOfEmail: true,
      LastModifiedDate: '2026-12-06T10:00:00.000Z',
    };
    const history: FieldChanges = new Map([
      // Set the value read: stamped.
      ['FirstName', { at: Date.parse('2026-12-06T09:00:00.000Z'), value: 'Ada' }],
      // Another value than the one read (a change the history does not show came after it): not stamped.
      ['LastName', { at: Date.parse('2026-12-06T09:10:00.000Z'), value: 'Byron' }],
      // A boolean's history value as text: stamped.
      ['HasOptedOutOfEmail', { at: Date.parse('2026-12-06T09:20:00.000Z'), value: 'true' }],
      // After the record's own stamp (a save after the read): not stamped.
      ['Email', { at: Date.parse('2026-12-06T11:00:00.000Z'), value: 'ada@example.com' }],
    ]);
    const [person] = reader.toRecords(record, { individuals: new Map(), consents: new Map() }, new Map(), { history });
    expect(person?.at).toBe('2026-12-06T10:00:00.000Z');
    expect(person?.fieldsAt).toEqual({ FirstName: '2026-12-06T09:00:00.000Z', HasOptedOutOfEmail: '2026-12-06T09:20:00.000Z' });
  });
});
