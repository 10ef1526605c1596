import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { exportCsv, csvField } from './csv.js';
import { buildExport, ExportDocument } from './document.js';
import { sampleInput } from './testing/fixtures.js';
import { EXPORT_SCHEMA_PATH, exportJsonSchemaText } from './json-schema.js';
import { KANTARA_VERSION } from './receipts.js';

async function publishedValidator() {
  const schema = JSON.parse(await readFile(EXPORT_SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

describe('the export document', () => {
  it('docs/schemas/export.schema.json is up to date (if not, run `concord dsr schema` and commit it)', async () => {
    const checkedIn = await readFile(EXPORT_SCHEMA_PATH, 'utf8');
    expect(checkedIn === exportJsonSchemaText(), `${EXPORT_SCHEMA_PATH} is stale: run \`concord dsr schema\` and commit the result`).toBe(
      true,
    );
  });

  it('holds every field with its source and time, every consent receipt and every system, and validates against the published schema', async () => {
    const doc = buildExport(sampleInput());
    expect(ExportDocument.parse(doc)).toEqual(doc);
    const validate = await publishedValidator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);

    expect(doc.subject.identities).toHaveLength(4);
    // Every value any system sent, taken or not and why, oldest first.
    expect(doc.valueHistory.map((e) => `${e.path}:${e.value}:${e.source}:${e.outcome}:${e.reason}`)).toEqual([
      'firstName:Adele:salesforce:lost:older_than_current',
      'firstName:Ada:hubspot:won:new',
    ]);
    expect(doc.subject.identities[0]).toEqual({
      kind: 'email',
      value: 'ada@example.com',
      source: 'hubspot',
      at: '2026-01-02T10:00:00.000Z',
      primary: true,
    });
    expect(doc.profile?.attributes.map((a) => `${a.path}:${a.source}:${a.at}`)).toEqual([
      'address:admin:2026-01-03T10:00:00.000Z',
      'firstName:hubspot:2026-01-02T10:00:00.000Z',
      'formula:admin:2026-01-03T10:00:00.000Z',
      'lastName:salesforce:2026-01-02T10:00:00.000Z',
    ]);
    expect(doc.profile?.consents).toEqual([
      expect.objectContaining({
        purpose: 'marketing',
        channel: 'email',
        status: 'granted',
        legalBasis: 'consent',
        source: 'preference_center',
      }),
      expect.objectContaining({ purpose: 'service', channel: 'email', legalBasis: 'contract', expiresAt: '2027-01-01T00:00:00.000Z' }),
    ]);
    expect(doc.profile?.subscriptions).toEqual([
      { topic: 'newsletter', subscribed: true, source: 'preference_center', at: '2026-01-05T09:00:00.000Z' },
    ]);
    expect(doc.profile?.rights.objections).toEqual([
      { kind: 'profiling', value: true, source: 'salesforce', at: '2026-01-07T00:00:00.000Z' },
    ]);
    expect(doc.systems.map((s) => [s.connector, s.type, s.externalId])).toEqual([
      ['hubspot', 'hubspot', '101'],
      ['salesforce', 'salesforce', '0035e000000AdaAAA'],
    ]);
    // Oldest first.
    expect(doc.history.map((h) => h.action)).toEqual(['profile.created', 'profile.updated']);
    expect(doc.history[0]).toMatchObject({ source: 'hubspot', changes: ['attribute:firstName'], reason: 'import' });
    expect(doc.live?.map((l) => l.status)).toEqual(['read', 'failed']);
  });

  it('gives the sync history from the push log: every delivery to each system with what was sent and when, oldest first', async () => {
    const doc = buildExport(sampleInput());
    const validate = await publishedValidator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.syncHistory).toEqual([
      {
        connector: 'salesforce',
        type: 'salesforce',
        externalId: '0035e000000AdaAAA',
        sentAt: '2026-01-02T10:00:02.000Z',
        values: { Email: 'ada@example.com', LastName: 'Lovelace, "Countess"' },
      },
      {
        connector: 'hubspot',
        type: 'hubspot',
        externalId: '101',
        sentAt: '2026-01-05T09:00:02.500Z',
        values: { 'subscription:101': 'SUBSCRIBED' },
      },
      {
        connector: 'salesforce',
        type: 'salesforce',
        externalId: '0035e000000AdaAAA',
        sentAt: '2026-01-05T09:00:03.000Z',
        values: { HasOptedOutOfEmail: false },
      },
    ]);
    // A delivery without its time, or with a time that is not one, breaks the published schema.
    const raw = doc as unknown as Record<string, unknown>;
    const { sentAt: _sentAt, ...undated } = doc.syncHistory[0] ?? {};
    expect(validate({ ...raw, syncHistory: [undated] })).toBe(false);
    expect(validate({ ...raw, syncHistory: [{ ...doc.syncHistory[0], sentAt: 'Tuesday' }] })).toBe(false);
  });

  it('marks only the newest e-mail as primary, and reads back an export stored before identities had stamps', () => {
    const input = sampleInput();
    const person = input.profile!;
    const older = { kind: 'email', value: 'a.lovelace@example.com', at: '2025-06-01T00:00:00.000Z', source: 'salesforce' } as const;
    const doc = buildExport({ ...input, profile: { ...person, identities: [older, ...person.identities] } });
    expect(doc.subject.identities.filter((i) => i.kind === 'email').map((i) => [i.value, i.primary])).toEqual([
      ['a.lovelace@example.com', false],
      ['ada@example.com', true],
    ]);
    const unstamped = {
      ...doc,
      subject: { ...doc.subject, identities: doc.subject.identities.map(({ kind, value, system }) => ({ kind, value, system })) },
    };
    expect(ExportDocument.parse(unstamped).subject.identities[0]).toEqual({ kind: 'email', value: 'a.lovelace@example.com' });
  });

  it('reads back an export stored before the sync history existed, with an empty history', () => {
    const { syncHistory: _drop, ...older } = buildExport(sampleInput());
    expect(ExportDocument.parse(older).syncHistory).toEqual([]);
  });

  it('gives each ledger entry as a Kantara-aligned consent receipt, oldest first', () => {
    const [first, second] = buildExport(sampleInput()).consentReceipts;
    expect(first).toMatchObject({
      version: KANTARA_VERSION,
      jurisdiction: 'EU',
      consentReceiptID: 'l-1',
      consentTimestamp: Date.parse('2026-01-02T10:00:00.000Z') / 1000,
      collectionMethod: 'hubspot',
      piiControllers: [{ piiController: 'Acme Ltd', email: 'privacy@acme.example', onBehalf: false }],
      policyUrl: 'https://acme.example/privacy',
      concord: { status: 'denied', previous: null, accepted: true },
    });
    expect(second?.services).toEqual([
      {
        service: 'email',
        purposes: [
          {
            purpose: 'Marketing communications',
            purposeCategory: ['marketing'],
            consentType: 'EXPLICIT',
            piiCategory: ['contact: e-mail address'],
            primaryPurpose: true,
            termination: 'until withdrawn; it can be withdrawn at any time',
            thirdPartyDisclosure: false,
          },
        ],
      },
    ]);
    expect(second?.concord).toMatchObject({
      status: 'granted',
      previous: 'denied',
      noticeVersion: '2026-01',
      evidence: { ip: '203.0.113.9' },
    });
  });

  it('exports someone the hub holds nothing on as an empty, valid document', async () => {
    const doc = buildExport({ ...sampleInput(), profile: null, ledger: [], shadows: [], pushes: [], audit: [], live: null });
    const validate = await publishedValidator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toMatchObject({
      subject: { profileId: null, identities: [] },
      profile: null,
      consentReceipts: [],
      systems: [],
      syncHistory: [],
      live: null,
    });
  });

  it('the published schema refuses a document that breaks it', async () => {
    const validate = await publishedValidator();
    const doc = buildExport(sampleInput()) as unknown as Record<string, unknown>;
    expect(validate({ ...doc, format: 'other/v9' })).toBe(false);
    expect(validate({ ...doc, generatedAt: 'yesterday' })).toBe(false);
    const { consentReceipts: _drop, ...without } = doc;
    expect(validate(without)).toBe(false);
  });
});

describe('the CSV form', () => {
  it('is one row per fact with quoting, and neutralises spreadsheet formulas', () => {
    const csv = exportCsv(buildExport(sampleInput()));
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('section,item,value,source,at,detail');
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(lines).toContain('attribute,lastName,"Lovelace, ""Countess""",salesforce,2026-01-02T10:00:00.000Z,');
    expect(lines).toContain(`attribute,formula,"'=HYPERLINK(""x"")",admin,2026-01-03T10:00:00.000Z,`);
    expect(lines).toContain('identity,external:hubspot,101,hubspot,2026-01-02T10:00:00.000Z,primary');
    expect(lines).toContain(
      'consent,marketing.email,granted,preference_center,2026-01-05T09:00:00.000Z,legalBasis=consent; method=preference_center',
    );
    expect(lines).toContain('system,salesforce,0035e000000AdaAAA,salesforce,2026-01-05T09:00:03.000Z,updatedAt=2026-01-05T09:00:03.000Z');
    expect(lines).toContain('live,salesforce,,salesforce,,failed: TransientError: 503');
    expect(lines.filter((l) => l.startsWith('consent_receipt,'))).toHaveLength(2);
    // The sync history, flat: one row per field sent, oldest delivery first.
    expect(lines.filter((l) => l.startsWith('sync,'))).toEqual([
      'sync,salesforce.Email,ada@example.com,salesforce,2026-01-02T10:00:02.000Z,externalId=0035e000000AdaAAA',
      'sync,salesforce.LastName,"Lovelace, ""Countess""",salesforce,2026-01-02T10:00:02.000Z,externalId=0035e000000AdaAAA',
      'sync,hubspot.subscription:101,SUBSCRIBED,hubspot,2026-01-05T09:00:02.500Z,externalId=101',
      'sync,salesforce.HasOptedOutOfEmail,false,salesforce,2026-01-05T09:00:03.000Z,externalId=0035e000000AdaAAA',
    ]);
  });

  it('quotes exactly the fields that need it', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('+44 20')).toBe("'+44 20");
    expect(csvField('@home')).toBe("'@home");
  });
});

describe('the whole records, recipients and retention', () => {
  it('keeps each live record whole, with the system’s labels and related records, and validates against the published schema', async () => {
    const doc = buildExport(sampleInput());
    const validate = await publishedValidator();
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.live?.[0]?.records[0]).toMatchObject({
      labels: { email: 'Email' },
      related: { subscriptionStatuses: [{ subscriptionId: 101, status: 'SUBSCRIBED' }] },
    });
  });

  it('names as recipients the systems the push log shows deliveries to, with the purposes and data the config sends there', () => {
    const doc = buildExport(sampleInput());
    // Mailchimp is configured but received nothing of this person: no recipient.
    expect(doc.recipients.map((r) => r.connector)).toEqual(['hubspot', 'salesforce']);
    expect(doc.recipients[0]).toEqual({
      connector: 'hubspot',
      type: 'hubspot',
      purposes: [{ purpose: 'marketing', title: 'Marketing communications', channels: ['email'], consentAuthority: true }],
      data: ['consent:marketing.email', 'identity:email'],
      deliveries: 1,
      firstSentAt: '2026-01-05T09:00:02.500Z',
      lastSentAt: '2026-01-05T09:00:02.500Z',
    });
    expect(doc.recipients[1]).toMatchObject({
      connector: 'salesforce',
      purposes: [],
      deliveries: 2,
      firstSentAt: '2026-01-02T10:00:02.000Z',
    });
  });

  it('states the retention honestly: the export’s expiry, no retention rule configured, the erasure policy', () => {
    const doc = buildExport(sampleInput());
    expect(doc.retention).toMatchObject({ export: { expiresAt: '2026-02-08T00:00:00.000Z', ttlMs: 604_800_000 }, rules: [] });
    expect(doc.retention?.profile).toMatch(/^No retention rule is configured/);
  });

  it('the CSV has the labels, related records, recipients and retention', () => {
    const lines = exportCsv(buildExport(sampleInput())).split('\r\n');
    expect(lines).toContain('live,hubspot.101.firstname,Ada,hubspot,2026-01-05T09:00:02.000Z,label=First <Name>');
    expect(lines).toContain(`live,hubspot.101.favourite_colour,"'=HYPERLINK(""x"")",hubspot,2026-01-05T09:00:02.000Z,`);
    expect(lines.some((l) => l.startsWith('live_related,hubspot.101.subscriptionStatuses,'))).toBe(true);
    expect(lines).toContain(
      'recipient,hubspot.purpose.marketing,email,hubspot,2026-01-05T09:00:02.500Z,title=Marketing communications; consentAuthority=true',
    );
    expect(lines).toContain('retention,rules,,,,none configured');
  });
});
