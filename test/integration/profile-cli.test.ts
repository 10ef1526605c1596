/**
 * `concord profile <who> [--history] [--json] [--reveal]` against a hub's database: the profile
 * with every value's source and time, the history that says why an older change lost and a
 * newer one won, e-mail addresses masked unless `--reveal`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MergePolicy, ProfilePatch } from '../../src/profile/schema.js';
import type { ProfilePatchInput } from '../../src/profile/schema.js';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase } from '../helpers/db.js';
import type { TestDatabase } from '../helpers/db.js';
import { runConcord } from '../helpers/cli.js';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();
const ENV = { T_SIGNING: 's'.repeat(40), T_HASH: 'k'.repeat(32), LOG_LEVEL: 'silent' };

describe('concord profile', () => {
  let db: TestDatabase;
  let dir: string;
  let config: string;
  let profileId: string;

  const concord = (...args: string[]) => runConcord(['profile', ...args, '--config', config, '--no-demo'], { ...process.env, ...ENV });

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    dir = await mkdtemp(join(tmpdir(), 'concord-profile-'));
    config = join(dir, 'concord.yaml');
    await writeFile(
      config,
      `hub:
  mode: development
  redisUrl: redis://127.0.0.1:6379
  databaseUrl: ${db.url}
  publicUrl: http://127.0.0.1:8080
  secrets:
    signing: \${env:T_SIGNING}
    hashKey: \${env:T_HASH}
catalog:
  channels: { email: { title: E-mail } }
  purposes: {}
  topics: { newsletter: { title: Newsletter } }
connectors: {}
`,
    );
    const store = await openStore({ url: db.url, policy: MergePolicy.parse({}), outboxTargets: [], hashKey: ENV.T_HASH });
    const patch = (input: Partial<ProfilePatchInput> & { source: string; at: string }) =>
      ProfilePatch.parse({
        id: `${input.source}@${input.at}`,
        receivedAt: input.at,
        identities: [{ kind: 'email', value: 'ada@example.com' }],
        ...input,
      });
    try {
      const first = await store.applyPatch(
        patch({ source: 'crm', at: T(10), attributes: { firstName: 'Ada' }, subscriptions: { newsletter: true } }),
      );
      await store.applyPatch(patch({ source: 'shop', at: T(5), attributes: { firstName: 'Adele' } }));
      await store.applyPatch(patch({ source: 'shop', at: T(20), attributes: { firstName: 'Ada L.' } }), { actor: 'admin:ops' });
      if (first.status !== 'applied') throw new Error(first.status);
      profileId = first.profileId;
    } finally {
      await store.close();
    }
  });
  afterAll(async () => {
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the profile and, with --history, why each change won or lost; e-mail addresses masked', async () => {
    const run = await concord('Ada@Example.com', '--history');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).not.toContain('ada@example.com');
    expect(out).toContain(`profile ${profileId} (version 2)`);
    // The address's stamp is the newest that named it.
    expect(out).toContain(`  email  a***@example.com  primary  (shop, ${T(20)})`);
    expect(out).toContain(`  firstName  "Ada L."  (shop, ${T(20)})`);
    expect(out).toContain(`  newsletter  true  (crm, ${T(10)})`);
    const history = out.slice(out.indexOf('history:'));
    expect(history).toContain(
      [
        '  attribute firstName',
        `    ${T(10)}  crm  "Ada"  won new`,
        `    ${T(5)}  shop  "Adele"  lost older_than_current (kept "Ada" from crm, ${T(10)})`,
        `    ${T(20)}  shop  "Ada L."  won newer (replaced "Ada" from crm, ${T(10)})  by admin:ops`,
      ].join('\n'),
    );
    expect(history).toContain(`  identity email:a***@example.com\n    ${T(10)}  crm  "a***@example.com"  won new`);
  });

  it('--json gives the profile and the history as the API does; --reveal shows addresses; by id too', async () => {
    const run = await concord(profileId, '--history', '--json', '--reveal');
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout) as {
      profile: { id: string; identities: { value: string }[] };
      history: { attributes: Record<string, { outcome: string; reason: string }[]> };
    };
    expect(doc.profile.id).toBe(profileId);
    expect(doc.profile.identities.map((i) => i.value)).toEqual(['ada@example.com']);
    expect(doc.history.attributes['firstName']?.map((e) => `${e.outcome} ${e.reason}`)).toEqual([
      'won new',
      'lost older_than_current',
      'won newer',
    ]);
    const masked = await concord(profileId, '--json');
    expect(JSON.parse(masked.stdout)).toMatchObject({ profile: { identities: [{ value: 'a***@example.com' }] } });
    expect(masked.stdout).not.toContain('"history"');
  });

  it('--history shows the newest entries up to --limit (200 by default) and says when older ones were left out', async () => {
    const all = await concord('ada@example.com', '--history');
    expect(all.stdout).not.toContain('left out');
    const run = await concord('ada@example.com', '--history', '--limit', '1');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('(older entries left out: --limit 1 shows the newest 1; raise it to see more)');
    expect(run.stdout).toContain(`    ${T(20)}  shop  "Ada L."  won newer`);
    expect(run.stdout).not.toContain(`${T(10)}  crm  "Ada"  won new`);
    const json = JSON.parse((await concord('ada@example.com', '--history', '--json', '--limit', '1')).stdout) as {
      history: { truncated: boolean };
    };
    expect(json.history.truncated).toBe(true);
  });

  it('exits 1 when nobody matches, without printing the address', async () => {
    const run = await concord('nobody@example.com');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('no profile for n***@example.com\n');
  });

  it('is read-only: a database path where none is gets no file, and no migration runs', async () => {
    const missing = join(dir, 'typo.db');
    const other = join(dir, 'typo.yaml');
    await writeFile(other, (await readFile(config, 'utf8')).replace(db.url, `sqlite:${missing}`));
    const run = await runConcord(['profile', 'ada@example.com', '--config', other, '--no-demo'], { ...process.env, ...ENV });
    expect(run.stderr).toBe('no profile for a***@example.com\n');
    expect(run.code).toBe(1);
    expect(existsSync(missing)).toBe(false);
  });
});
