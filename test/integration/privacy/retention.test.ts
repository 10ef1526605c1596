/**
 * Storage limitation: a retention rule's dry run lists exactly the profiles it selects (inactive
 * long enough, no consent in force, no subscription, not restricted) and changes nothing; the
 * real run erases those, in every system, as erasure requests of origin `retention`, and
 * nothing else. The hub's clock runs ahead so that the people seeded now are "old".
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProfilePatch } from '../../../src/profile/schema.js';
import type { DataSubjectRequest } from '../../../src/store/types.js';
import { startPrivacyHub } from '../../../harness/privacy-hub.js';
import type { PrivacyHub } from '../../../harness/privacy-hub.js';
import { REDIS_URL } from '../../../harness/sync-hub.js';
import { hubYaml } from '../../../harness/hub-config.js';
import { runConcord } from '../../helpers/cli.js';

const DAY = 86_400_000;

interface Person {
  email: string;
  consents?: ProfilePatch['consents'];
  subscriptions?: ProfilePatch['subscriptions'];
  restricted?: boolean;
}

const PEOPLE: Record<string, Person> = {
  silent: { email: 'silent@example.com' },
  consenting: { email: 'consenting@example.com', consents: { marketing: { email: { status: 'granted' } } } },
  expired: {
    email: 'expired@example.com',
    consents: { marketing: { email: { status: 'granted', expiresAt: new Date(Date.now() + DAY).toISOString() } } },
  },
  subscribed: { email: 'subscribed@example.com', subscriptions: { newsletter: true } },
  restricted: { email: 'restricted@example.com', restricted: true },
  denied: { email: 'denied@example.com', consents: { marketing: { email: { status: 'denied' } } } },
};

/** A request row as the store keeps it (the test stands in for one the hub is working on). */
function request(id: string, profileId: string, kind: 'export' | 'erase', status: 'in_progress' | 'failed') {
  const at = new Date().toISOString();
  return {
    id: `00000000-0000-7000-8000-${id.padStart(12, '0').slice(-12)}`,
    kind,
    status,
    profileId,
    identityHashes: [],
    receivedAt: at,
    dueAt: at,
    extendedTo: null,
    subjectToldAt: null,
    completedAt: null,
    detail: { origin: 'api', actor: 'test', outcomes: {} },
    systems: [],
  };
}

async function seed(hub: PrivacyHub, person: Person): Promise<string> {
  const now = new Date().toISOString();
  const result = await hub.hubIngest.ingest({
    id: `seed:${person.email}`,
    source: 'preference_center',
    at: now,
    receivedAt: now,
    identities: [{ kind: 'email', value: person.email }],
    attributes: { firstName: person.email.split('@')[0] ?? 'x' },
    consents: Object.fromEntries(
      Object.entries(person.consents ?? {}).map(([purpose, channels]) => [
        purpose,
        Object.fromEntries(
          Object.entries(channels).map(([channel, c]) => [
            channel,
            { ...c, evidence: { method: 'preference_center', noticeVersion: '1' } },
          ]),
        ),
      ]),
    ),
    subscriptions: person.subscriptions ?? {},
    rights: { ...(person.restricted ? { restricted: true } : {}), objections: {} },
  });
  if (result.status !== 'applied') throw new Error(`seed ${person.email}: ${result.status}`);
  return result.profileId;
}

describe('retention rules', () => {
  let hub: PrivacyHub;
  let offset = 0;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      clock: () => Date.now() + offset,
      privacy: {
        retention: {
          maxErasuresPerRun: 2,
          rules: [
            { id: 'dormant', inactiveForMs: 5 * DAY, withoutConsent: true, action: 'erase', description: 'no consent, 5 days idle' },
            { id: 'ancient', inactiveForMs: 30 * DAY, withoutConsent: false, action: 'report' },
          ],
        },
      },
    });
    for (const [name, person] of Object.entries(PEOPLE)) ids[name] = await seed(hub, person);
    await hub.settle();
  }, 90_000);
  afterAll(async () => {
    await hub?.close();
  });

  it('selects nobody who changed within the rule’s time', async () => {
    const report = await hub.privacy.runRetention({ dryRun: true });
    expect(report.rules.map((r) => [r.rule, r.selected.length])).toEqual([
      ['dormant', 0],
      ['ancient', 0],
    ]);
  });

  it('a dry run lists exactly the inactive people without consent in force, and changes nothing', async () => {
    offset = 10 * DAY;
    const before = await hub.db.count('profiles');
    const report = await hub.privacy.runRetention({ dryRun: true });
    const dormant = report.rules.find((r) => r.rule === 'dormant');
    expect(dormant?.selected.map((s) => s.profileId).sort()).toEqual([ids['silent'], ids['expired'], ids['denied']].sort());
    expect(dormant).toMatchObject({ kept: { consent: 2, restricted: 1 }, erasuresStarted: 0 });
    // 10 days are not the 30 the other rule asks for.
    expect(report.rules.find((r) => r.rule === 'ancient')?.selected).toEqual([]);
    expect(await hub.db.count('profiles')).toBe(before);
    expect(await hub.store.listDsr({ kind: 'erase' })).toEqual([]);
    const audit = await hub.store.listAudit({ limit: 1000 });
    expect(audit.find((a) => a.action === 'retention.report')?.detail).toMatchObject({ dryRun: true });
  });

  it('leaves alone a person with a request open, and one whose erasure failed', async () => {
    const open = await hub.store.createDsr(request('open', ids['denied'] ?? '', 'export', 'in_progress'));
    const failed = await hub.store.createDsr(request('failed', ids['silent'] ?? '', 'erase', 'failed'));
    const report = await hub.privacy.runRetention({ dryRun: true });
    expect(report.rules.find((r) => r.rule === 'dormant')).toMatchObject({
      selected: [{ profileId: ids['expired'] }],
      kept: { consent: 2, restricted: 1, openRequest: 1, failedErasure: 1 },
    });
    // Answered, and retried and given up: the rule selects them again.
    await hub.store.updateDsr(open.id, { status: 'completed' });
    await hub.store.updateDsr(failed.id, { status: 'completed' });
  });

  /** The erasures retention started (not the rows the test made itself). */
  async function retentionErasures(): Promise<DataSubjectRequest[]> {
    return (await hub.store.listDsr({ kind: 'erase' })).filter((r) => r.detail['origin'] === 'retention');
  }

  async function settleErasures(): Promise<void> {
    for (const request of await retentionErasures()) {
      const view = await hub.waitFor(request.id, (v) => v.status === 'completed' || v.status === 'failed');
      expect(view).toMatchObject({ status: 'completed', origin: 'retention' });
    }
  }

  it('the real run erases exactly those, in every system, and nothing else', async () => {
    const hubspotBefore = hub.hubspot.sideDoor.contacts().length;
    // Everyone but the restricted person, who is created in no system.
    expect(hubspotBefore).toBe(Object.keys(PEOPLE).length - 1);
    // At most two erasures a run: the third person waits for the next run.
    const first = await hub.privacy.runRetention({ dryRun: false });
    expect(first.rules.find((r) => r.rule === 'dormant')).toMatchObject({ selectedCount: 3, erasuresStarted: 2, deferred: 1 });
    await settleErasures();
    const second = await hub.privacy.runRetention({ dryRun: false });
    expect(second.rules.find((r) => r.rule === 'dormant')).toMatchObject({ selectedCount: 1, erasuresStarted: 1, deferred: 0 });
    await settleErasures();
    const requests = await retentionErasures();
    expect(requests.map((r) => r.profileId).sort()).toEqual([ids['silent'], ids['expired'], ids['denied']].sort());
    const inHubSpot = (): string[] => hub.hubspot.sideDoor.contacts().map((c) => c.properties['email'] ?? '');
    for (const name of ['silent', 'expired', 'denied']) {
      expect(await hub.profileByEmail(PEOPLE[name]?.email ?? '')).toBeNull();
      expect(inHubSpot()).not.toContain(PEOPLE[name]?.email);
    }
    for (const name of ['consenting', 'subscribed', 'restricted'])
      expect(await hub.profileByEmail(PEOPLE[name]?.email ?? '')).not.toBeNull();
    expect(inHubSpot()).toContain(PEOPLE['consenting']?.email);
    expect(inHubSpot()).toHaveLength(hubspotBefore - 3);
    const audit = await hub.store.listAudit({ limit: 10_000 });
    expect(audit.filter((a) => a.action === 'dsr.received' && a.actor === 'retention:dormant')).toHaveLength(3);
    expect(audit.some((a) => a.action === 'retention.run')).toBe(true);

    // A second run finds nobody new: the erased are gone, the kept are kept.
    const again = await hub.privacy.runRetention({ dryRun: false });
    expect(again.rules.find((r) => r.rule === 'dormant')).toMatchObject({ selectedCount: 0, erasuresStarted: 0 });
  }, 90_000);
});

describe('the retention schedule', () => {
  let hub: PrivacyHub | undefined;
  afterAll(async () => {
    await hub?.close();
  });

  it('runs the rules on their own every so often, reporting a report rule without erasing', async () => {
    hub = await startPrivacyHub({
      dialect: 'sqlite',
      clock: () => Date.now() + 10 * DAY,
      privacy: { retention: { everyMs: 200, rules: [{ id: 'watch', inactiveForMs: DAY, action: 'report' }] } },
    });
    const h = hub;
    await seed(h, PEOPLE['silent'] ?? { email: 'x@example.com' });
    const deadline = Date.now() + 20_000;
    let reports: unknown[] = [];
    while (reports.length < 2 && Date.now() < deadline) {
      reports = (await h.store.listAudit({ limit: 1000 })).filter((a) => a.action === 'retention.report').map((a) => a.detail);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(reports.length).toBeGreaterThanOrEqual(2);
    expect(reports[0]).toMatchObject({ dryRun: false, rules: [{ rule: 'watch', action: 'report', selected: 1, erasuresStarted: 0 }] });
    expect(await h.store.listDsr({ kind: 'erase' })).toEqual([]);
    expect(await h.profileByEmail('silent@example.com')).not.toBeNull();
  }, 60_000);
});

describe('concord retention', () => {
  let hub: PrivacyHub;
  let dir: string;
  let config: string;
  const env = { ...process.env, T_SIGNING: 's'.repeat(32), T_HASH: 'k'.repeat(32), LOG_LEVEL: 'silent' };

  beforeAll(async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite' });
    await seed(hub, PEOPLE['silent'] ?? { email: 'x@example.com' });
    dir = await mkdtemp(join(tmpdir(), 'concord-retention-'));
    config = join(dir, 'concord.yaml');
    const yaml = hubYaml({
      redisUrl: REDIS_URL,
      databaseUrl: hub.db.url,
      prefix: hub.engine.prefix,
      extra: '  privacy:\n    retention:\n      rules:\n        - { id: dormant, inactiveFor: 1d, action: erase }\n',
    });
    await writeFile(config, `${yaml}connectors: {}\n`);
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a dry run reports per rule and changes nothing; an unknown rule exits 1', async () => {
    const run = await runConcord(['retention', '--dry-run', '--config', config], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^dry run at .*: nothing was changed\ndormant \(erase; inactive since before .*\)\n {2}0 selected; kept: 0 with consent, 0 restricted/,
    );
    expect(await hub.store.listDsr({ kind: 'erase' })).toEqual([]);
    const json = await runConcord(['retention', '--dry-run', '--json', '--config', config], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ dryRun: true, rules: [{ rule: 'dormant', selected: [] }] });
    const unknown = await runConcord(['retention', '--rule', 'nope', '--config', config], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no such rule: nope (the rules: dormant)');
  }, 30_000);
});
