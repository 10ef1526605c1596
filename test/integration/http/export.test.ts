/**
 * Access requests read everything a generic HTTP system holds on a person (issue 20, test 2):
 * the record as the system returns it, compared field by field with the emulator's side door,
 * and what the export endpoint answers beside it (the contact's notes); nobody else's data.
 */
import { describe, expect, it } from 'vitest';
import { heldFields } from '../../helpers/without-empty.js';
import { exampleOnEmulator, instanceOf, signal } from './connector-helpers.js';

describe('http connector export', () => {
  it('holds the whole record with every non-empty field (as the side door shows it) and the notes beside it', async () => {
    const { emu, config } = await exampleOnEmulator('crm');
    const ada = emu.sideDoor.userChange('ada@example.com');
    emu.sideDoor.crmUserEdit(ada.id, { first_name: 'Ada', last_name: 'Lovelace', phone: null, consents: { email_marketing: true } });
    emu.sideDoor.userChange('grace@example.com');
    const crm = instanceOf(config);

    const [record, ...more] = await crm.export([{ externalId: ada.id }], signal());
    expect(more).toEqual([]);
    const [held] = emu.sideDoor.crmContacts('ada@example.com');
    // Field by field, nested as the system holds it: every value, nothing empty.
    expect(record?.fields).toEqual(heldFields(held));
    expect(record?.fields).toMatchObject({ first_name: 'Ada', consents: { email_marketing: true } });
    expect(record?.fields).not.toHaveProperty('phone');
    const notes = emu.sideDoor.crmNotes(ada.id);
    expect(notes.length).toBeGreaterThan(0);
    expect(record?.related).toEqual({ notes });
    expect(JSON.stringify(record)).not.toContain('grace');
  });
});
