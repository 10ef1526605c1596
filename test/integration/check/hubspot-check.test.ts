/**
 * `check` of the HubSpot connector against the emulator: the private app's token introspected
 * (access-token-info) for its scopes, contacts readable, subscription types and properties known.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionCheck } from '../../../src/connector/define.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createHubSpotInstance } from '../../../connectors/hubspot/connector.js';
import { HubSpotConfig, type HubSpotConfigInput } from '../../../connectors/hubspot/config.js';
import {
  startHubSpotEmulator,
  type HubSpotEmulatorOptionsInput,
  type RunningHubSpotEmulator,
} from '../../../connectors/hubspot/emulator/index.js';

const TOKEN = 'pat-check-test';
const open: RunningHubSpotEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function check(
  emulator: Partial<HubSpotEmulatorOptionsInput> = {},
  config: Partial<HubSpotConfigInput> = {},
): Promise<ConnectionCheck[]> {
  const emu = await startHubSpotEmulator({ clientSecret: 'check-secret', accessToken: TOKEN, appId: 4242, ...emulator });
  open.push(emu);
  const parsed = HubSpotConfig.parse({
    accessToken: TOKEN,
    webhookSecret: 'check-secret',
    baseUrl: emu.url,
    appId: 4242,
    subscriptions: [{ id: 101, consent: 'marketing.email' }],
    ...config,
  });
  const instance = createHubSpotInstance({ instanceId: 'hubspot', config: parsed, logger: silentLogger() });
  const lines = (await instance.check?.(AbortSignal.timeout(10_000))) ?? [];
  await instance.close?.();
  return lines;
}

const failures = (lines: ConnectionCheck[]) => lines.filter((l) => !l.ok);

describe('HubSpot check', () => {
  it('passes with the token, its scopes and the configured subscription types; webhooks are a neutral line', async () => {
    const lines = await check();
    expect(failures(lines)).toEqual([]);
    expect(lines.map((l) => l.detail)).toEqual(
      expect.arrayContaining([
        'the access token is accepted (private app 4242 in account 62515)',
        'contacts can be read',
        'the 1 subscription types exist',
      ]),
    );
    expect(lines.filter((l) => l.neutral).map((l) => l.detail)).toEqual([
      expect.stringMatching(/^webhook subscriptions cannot be checked from here/),
    ]);
  });

  it('a wrong token is a ✘ at accessToken with the fix', async () => {
    const lines = await check({}, { accessToken: 'pat-wrong' });
    expect(failures(lines)).toEqual([
      {
        ok: false,
        detail: expect.stringMatching(/^HubSpot refused the credentials/),
        path: ['accessToken'],
        fix: expect.stringContaining('Private apps'),
      },
    ]);
  });

  it('a missing scope is a ✘ naming the scope and where to grant it', async () => {
    const lines = await check({ scopes: ['crm.objects.contacts.read', 'communication_preferences.read'] });
    expect(failures(lines)).toEqual([
      {
        ok: false,
        detail:
          'the token lacks crm.objects.contacts.write (to push and erase contacts), communication_preferences.statuses.batch.read (to read subscription statuses), communication_preferences.statuses.batch.write (to write subscription statuses)',
        path: ['accessToken'],
        fix: expect.stringContaining('grant crm.objects.contacts.write, communication_preferences.statuses.batch.read'),
      },
    ]);
  });

  it('an unknown subscription type, an unknown property and another app id are ✘ at their keys', async () => {
    const lines = await check(
      {},
      {
        appId: 7,
        subscriptions: [
          { id: 101, consent: 'marketing.email' },
          { id: 999, topic: 'news' },
        ],
        properties: ['no_such_property'],
      },
    );
    expect(failures(lines).map((l) => [l.path, l.fix])).toEqual([
      [['appId'], 'set appId to 4242'],
      [['subscriptions', 1, 'id'], 'use one of 101 (Marketing Information), 102 (One to One), 103 (Newsletter)'],
      [['properties', 0], expect.stringContaining('internal name')],
    ]);
  });
});
