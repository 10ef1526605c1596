/**
 * `check` of the Mailchimp connector against the emulator: ping with the key, the audience, the
 * merge fields the mapping writes, interests, and the audience's webhook at the hub's URL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionCheck } from '../../../src/connector/define.js';
import { silentLogger } from '../../../src/log/logger.js';
import { createMailchimpInstance } from '../../../connectors/mailchimp/connector.js';
import { MailchimpConfig, type MailchimpConfigInput } from '../../../connectors/mailchimp/config.js';
import {
  DEFAULT_LIST_ID,
  startMailchimpEmulator,
  type MailchimpEmulatorOptionsInput,
  type RunningMailchimpEmulator,
} from '../../../connectors/mailchimp/emulator/index.js';

const API_KEY = 'check-key-us1';
const URL_SECRET = 'check-url-secret-0123456789abcdef0123';
const HUB = { webhookUrl: 'http://hub.example.test/webhooks/mailchimp' };
const open: RunningMailchimpEmulator[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function check(
  options: {
    emulator?: Partial<MailchimpEmulatorOptionsInput>;
    config?: Partial<MailchimpConfigInput>;
    fieldTargets?: Record<string, string>;
    hub?: { webhookUrl: string };
  } = {},
): Promise<ConnectionCheck[]> {
  const emu = await startMailchimpEmulator({ apiKey: API_KEY, webhookUrl: `${HUB.webhookUrl}/${URL_SECRET}`, ...options.emulator });
  open.push(emu);
  const config = MailchimpConfig.parse({
    baseUrl: emu.apiUrl,
    apiKey: API_KEY,
    listId: DEFAULT_LIST_ID,
    webhookSecret: URL_SECRET,
    ...options.config,
  });
  const instance = createMailchimpInstance({
    instanceId: 'mailchimp',
    config,
    logger: silentLogger(),
    ...(options.fieldTargets ? { fieldTargets: options.fieldTargets } : {}),
  });
  const lines = (await instance.check?.(AbortSignal.timeout(10_000), 'hub' in options ? options.hub : HUB)) ?? [];
  await instance.close?.();
  return lines;
}

const failures = (lines: ConnectionCheck[]) => lines.filter((l) => !l.ok);

describe('Mailchimp check', () => {
  it('passes with the key, the audience, its merge fields and the webhook at the hub', async () => {
    const lines = await check();
    expect(failures(lines)).toEqual([]);
    expect(lines.map((l) => l.detail)).toEqual([
      'the API key is accepted',
      expect.stringMatching(new RegExp(`^audience ${DEFAULT_LIST_ID} \\(.+\\) exists$`)),
      'the 3 merge fields the mapping writes exist',
      `the audience’s webhook points at ${HUB.webhookUrl}/<webhookSecret> with the events and sources needed`,
    ]);
    expect(JSON.stringify(lines)).not.toContain(URL_SECRET);
  });

  it('a wrong API key is a ✘ at apiKey with the fix', async () => {
    const lines = await check({ config: { apiKey: 'wrong-key-us1' } });
    expect(failures(lines)).toEqual([
      {
        ok: false,
        detail: expect.stringMatching(/^Mailchimp refused the credentials/),
        path: ['apiKey'],
        fix: expect.stringContaining('API key'),
      },
    ]);
  });

  it('an unknown audience is a ✘ at listId', async () => {
    const lines = await check({ config: { listId: 'nosuchlist' } });
    expect(failures(lines).map((l) => l.path)).toEqual([['listId']]);
  });

  it('a merge field the mapping writes but the audience lacks, an unknown interest and a missing webhook are ✘', async () => {
    const lines = await check({
      emulator: { webhookUrl: undefined },
      config: { interests: [{ id: 'nosuchinterest', topic: 'news' }] },
      fieldTargets: { email_address: 'identity:email', 'merge:FNAME': 'field:firstName', 'merge:BIRTHDAY': 'field:birthday' },
    });
    expect(failures(lines).map((l) => [l.path, l.detail])).toEqual([
      [['mappings'], 'the mapping writes merge field BIRTHDAY, which the audience does not have'],
      [['interests', 0, 'id'], 'interest nosuchinterest does not exist in the audience'],
      [[], `the audience has no webhook at ${HUB.webhookUrl}/<webhookSecret>: changes made in Mailchimp reach the hub only by pulls`],
    ]);
    expect(failures(lines)[2]?.fix).toContain('concord connector setup');
  });

  it('without the hub’s URL the webhook is a neutral line', async () => {
    const lines = await check({ hub: undefined });
    expect(lines.at(-1)).toEqual({ ok: true, neutral: true, detail: expect.stringContaining('not checked') });
  });
});
