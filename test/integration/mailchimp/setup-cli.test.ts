/**
 * `concord connector setup mailchimp`: registers the audience's webhook at the hub's address
 * with the sources the connector needs (user and admin, never api, so the hub's own writes do not
 * come back), passing Mailchimp's validation GET of the URL, which the running hub answers; run
 * again, it keeps what is right. A person's change in Mailchimp then reaches the hub through it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIST_ID } from '../../../connectors/mailchimp/emulator/index.js';
import { hubYaml } from '../../../harness/hub-config.js';
import { MAILCHIMP_KEY, MAILCHIMP_URL_SECRET, startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { runConcord } from '../../helpers/cli.js';

interface ListWebhook {
  id: string;
  url: string;
  events: Record<string, boolean>;
  sources: Record<string, boolean>;
}

describe('concord connector setup mailchimp', () => {
  let hub: PrivacyHub | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('registers the webhook with sources user and admin (api off), past the validation GET, and keeps it when run again', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', mailchimp: true });
    const h = hub;
    const emulator = h.mailchimp;
    if (!emulator) throw new Error('no Mailchimp');
    const api = async <T>(method: string, path: string): Promise<T> => {
      const res = await fetch(`${emulator.apiUrl}${path}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from(`any:${MAILCHIMP_KEY}`).toString('base64')}` },
      });
      return (res.status === 204 ? undefined : await res.json()) as T;
    };
    // Start from an audience without webhooks.
    const webhooks = async (): Promise<ListWebhook[]> =>
      (await api<{ webhooks: ListWebhook[] }>('GET', `/lists/${DEFAULT_LIST_ID}/webhooks`)).webhooks;
    for (const w of await webhooks()) await api('DELETE', `/lists/${DEFAULT_LIST_ID}/webhooks/${w.id}`);
    expect(await webhooks()).toEqual([]);

    dir = await mkdtemp(join(tmpdir(), 'concord-mc-setup-'));
    const file = join(dir, 'concord.yaml');
    await writeFile(
      file,
      `${hubYaml({ redisUrl: REDIS_URL, databaseUrl: `sqlite:${join(dir, 'hub.db')}`, prefix: '{mc-setup}' })}connectors:
  mailchimp:
    type: mailchimp
    apiKey: \${env:T_MC_KEY}
    baseUrl: ${emulator.url}
    listId: ${DEFAULT_LIST_ID}
    webhookSecret: \${env:T_MC_URL_SECRET}
`,
    );
    const env = { T_SIGNING: 's'.repeat(48), T_HASH: 'h'.repeat(32), T_MC_KEY: MAILCHIMP_KEY, T_MC_URL_SECRET: MAILCHIMP_URL_SECRET };
    const args = ['connector', 'setup', 'mailchimp', '-c', file, '--public-url', h.url];

    const first = await runConcord(args, env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `mailchimp: webhook created on audience ${DEFAULT_LIST_ID}: ${h.url}/webhooks/mailchimp/<webhookSecret> (id `,
    );
    // The URL secret is never printed; the signing secret, shown once by Mailchimp, is.
    expect(first.stdout).not.toContain(MAILCHIMP_URL_SECRET);
    expect(first.stdout).toMatch(/mailchimp: signing secret \(Mailchimp shows it once\)/);
    const [registered, ...others] = await webhooks();
    expect(others).toEqual([]);
    expect(registered).toMatchObject({
      url: `${h.url}/webhooks/mailchimp/${MAILCHIMP_URL_SECRET}`,
      sources: { user: true, admin: true, api: false },
      events: expect.objectContaining({ subscribe: true, unsubscribe: true, profile: true, upemail: true, cleaned: true }),
    });

    const again = await runConcord(args, env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`mailchimp: webhook kept on audience ${DEFAULT_LIST_ID}`);
    expect((await webhooks()).map((w) => w.id)).toEqual([registered?.id]);

    // A form sign-up in Mailchimp now reaches the hub through the new webhook.
    emulator.sideDoor.userChange('new@example.com', { FNAME: 'Nell' });
    await h.settle();
    expect(await h.profileByEmail('new@example.com')).toMatchObject({
      attributes: { firstName: expect.objectContaining({ value: 'Nell' }) },
    });
  });
});
