/**
 * Access requests read everything Mailchimp holds on a person (issue 20, test 2): every field of
 * the member with a value, compared field by field with the emulator's side door, the list's
 * merge-field names as labels, and the member's tags, interests and marketing permissions;
 * nobody else's data.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMailchimpInstance } from '../../../connectors/mailchimp/connector.js';
import { MailchimpConfig } from '../../../connectors/mailchimp/config.js';
import { DEFAULT_INTEREST_IDS, DEFAULT_LIST_ID, DEFAULT_PERMISSION_IDS } from '../../../connectors/mailchimp/emulator/index.js';
import { silentLogger } from '../../../src/log/logger.js';
import { heldFields } from '../../helpers/without-empty.js';
import { api, emulator, KEY } from './emulator-helpers.js';

const signal = (): AbortSignal => new AbortController().signal;

describe('Mailchimp export', () => {
  it('holds every field of the member with a value (as the side door shows it), merge-field names, tags, interests, permissions', async () => {
    const e = await emulator({ apiKey: KEY });
    const members = `/lists/${DEFAULT_LIST_ID}/members`;
    const created = await api(e, 'POST', members, {
      email_address: 'ada@example.com',
      status: 'subscribed',
      merge_fields: {
        FNAME: 'Ada',
        LNAME: 'Lovelace',
        PHONE: '',
        ADDRESS: { addr1: '12 St James Sq', addr2: '', city: 'London', state: 'London', zip: 'SW1Y 4LB', country: 'GB' },
      },
      interests: { [DEFAULT_INTEREST_IDS.newsletter]: true, [DEFAULT_INTEREST_IDS.offers]: false },
      marketing_permissions: [{ marketing_permission_id: DEFAULT_PERMISSION_IDS.email, enabled: true }],
      language: 'en',
      ip_signup: '198.51.100.7',
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    await api(e, 'POST', `${members}/${created.body.id}/tags`, { tags: [{ name: 'VIP', status: 'active' }] });
    await api(e, 'POST', members, { email_address: 'grace@example.com', status: 'subscribed', merge_fields: { FNAME: 'Grace' } });

    const config = MailchimpConfig.parse({
      baseUrl: e.apiUrl,
      apiKey: KEY,
      listId: DEFAULT_LIST_ID,
      webhookSecret: 'url-secret-0123456789-0123456789-0123',
    });
    const instance = createMailchimpInstance({ instanceId: 'mc', config, logger: silentLogger(), metrics: new Registry() });
    const byId = await instance.export?.([{ externalId: created.body.contact_id }], signal());
    const byEmail = await instance.export?.([{ email: 'ada@example.com' }], signal());
    expect(byEmail).toEqual(byId);
    expect(byId).toHaveLength(1);
    const record = byId?.[0];
    const member = e.sideDoor.member('ada@example.com');
    // Field by field, nested values too: every field Mailchimp holds a value for, none it does not.
    expect(record?.fields).toEqual(heldFields(member, ['_links', 'tags', 'interests', 'marketing_permissions']));
    expect(record?.fields).toMatchObject({ merge_fields: { FNAME: 'Ada', ADDRESS: { city: 'London' } }, ip_signup: '198.51.100.7' });
    expect(record?.fields['merge_fields']).not.toHaveProperty('PHONE');
    expect(record?.labels).toEqual({
      'merge_fields.FNAME': 'First Name',
      'merge_fields.LNAME': 'Last Name',
      'merge_fields.ADDRESS': 'Address',
    });
    expect(record?.related?.tags).toEqual([expect.objectContaining({ name: 'VIP' })]);
    expect(record?.related?.interests).toEqual(
      expect.arrayContaining([
        { id: DEFAULT_INTEREST_IDS.newsletter, name: 'Newsletter', category: 'Topics', subscribed: true },
        { id: DEFAULT_INTEREST_IDS.offers, name: 'Offers', category: 'Topics', subscribed: false },
      ]),
    );
    expect(record?.related?.marketingPermissions).toEqual(
      expect.arrayContaining([{ marketing_permission_id: DEFAULT_PERMISSION_IDS.email, text: 'Email', enabled: true }]),
    );
    expect(JSON.stringify(byId)).not.toContain('grace');
  });
});
