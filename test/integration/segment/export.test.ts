/**
 * Access requests read everything Segment holds on a person (issue 20, test 2): every trait of
 * the profile with a value, compared field by field with the emulator's side door, and the
 * profile's external ids; nobody else's data.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log/logger.js';
import { createSegmentInstance } from '../../../connectors/segment/connector.js';
import { SegmentConfig } from '../../../connectors/segment/config.js';
import { DEFAULT_SPACE_ID } from '../../../connectors/segment/emulator/index.js';
import { emulator, PROFILE_TOKEN, PUBLIC_TOKEN, SECRET, WRITE_KEY } from './emulator-helpers.js';

const signal = (): AbortSignal => new AbortController().signal;

describe('Segment export', () => {
  it('holds every trait with a value (as the side door shows it) and the external ids', async () => {
    const e = await emulator();
    e.sideDoor.downstreamIdentify('usr_ada', {
      email: 'ada@example.com',
      firstName: 'Ada',
      plan: 'pro',
      company: { name: 'Analytical Engines', employees: 12 },
      interests: ['maths', 'looms'],
      nickname: '',
      fax: null,
      vip: false,
    });
    e.sideDoor.downstreamIdentify('usr_grace', { email: 'grace@example.com', firstName: 'Grace' });
    const config = SegmentConfig.parse({
      writeKey: WRITE_KEY,
      baseUrl: e.url,
      spaceId: DEFAULT_SPACE_ID,
      profileToken: PROFILE_TOKEN,
      publicApiToken: PUBLIC_TOKEN,
      webhookSecret: SECRET,
    });
    const segment = createSegmentInstance({ instanceId: 'segment', logger: silentLogger(), config });

    const byId = await segment.export?.([{ externalId: 'usr_ada' }], signal());
    const byEmail = await segment.export?.([{ email: 'ada@example.com' }], signal());
    expect(byEmail).toEqual(byId);
    expect(byId).toHaveLength(1);
    const record = byId?.[0];
    const profile = e.sideDoor.profile('usr_ada');
    const held = Object.fromEntries(
      Object.entries(profile?.traits ?? {}).flatMap(([name, t]) => (t.value === '' || t.value === null ? [] : [[name, t.value]])),
    );
    // Field by field: every trait Segment holds a value for, none it does not.
    expect(record?.fields).toEqual(held);
    expect(record?.fields).toMatchObject({
      company: { name: 'Analytical Engines', employees: 12 },
      interests: ['maths', 'looms'],
      vip: false,
    });
    expect(record?.fields).not.toHaveProperty('nickname');
    expect(record?.related?.externalIds).toEqual(profile?.externalIds);
    expect(JSON.stringify(byId)).not.toMatch(/grace/i);
  });
});
