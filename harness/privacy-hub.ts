/**
 * A hub under test for data-subject requests: a fresh database and Redis prefix, the HubSpot
 * and Salesforce emulators (HubSpot behind a proxy that can fail), optionally Mailchimp's
 * (`mailchimp`: the marketing tool, a third system) and Segment's (`segment`: the CDP, its
 * Webhooks destination delivering to the hub), the engine built from
 * `SyncConnector`s as in production, the privacy service on the engine's connection, and the
 * HTTP server, listening, so the emulators deliver their webhooks over HTTP.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { freePort } from '../src/app/free-port.js';
import { Catalog } from '../src/config/schema.js';
import { compileMapping } from '../src/connector/mapping.js';
import { MergePolicy, type Profile } from '../src/profile/schema.js';
import { PrivacyService } from '../src/privacy/index.js';
import type { DsrView, PrivacyOptionsInput } from '../src/privacy/index.js';
import { build, listen } from '../src/server/build.js';
import { startMailCatcher, smtpMailer, type MailCatcher, type MailTexts } from '../src/mail/index.js';
import { DownloadLinks } from '../src/server/preferences/downloads.js';
import { RequesterVerifications } from '../src/server/requests/service.js';
import { apiKeyRecords } from '../src/server/api-keys.js';
import { openStore, type Store } from '../src/store/index.js';
import { bindConnector } from '../src/sync/bind.js';
import type { Engine } from '../src/sync/engine.js';
import { HubPatchIngest } from '../src/sync/inbound/hub-patch.js';
import type { EngineTuningInput } from '../src/sync/options.js';
import hubspot from '../connectors/hubspot/connector.js';
import { HubSpotConfig, SubscriptionType } from '../connectors/hubspot/config.js';
import {
  startHubSpotEmulator,
  type HubSpotEmulatorOptionsInput,
  type RunningHubSpotEmulator,
} from '../connectors/hubspot/emulator/index.js';
import { subscriptionMappings } from '../connectors/hubspot/mapping.js';
import salesforce from '../connectors/salesforce/connector.js';
import { SalesforceConfig } from '../connectors/salesforce/config.js';
import {
  startSalesforceEmulator,
  type RunningSalesforceEmulator,
  type SalesforceEmulatorOptionsInput,
} from '../connectors/salesforce/emulator/index.js';
import { salesforceMappings } from '../connectors/salesforce/mapping.js';
import mailchimp from '../connectors/mailchimp/connector.js';
import { MailchimpConfig, type MailchimpConfigInput } from '../connectors/mailchimp/config.js';
import {
  DEFAULT_INTEREST_IDS,
  DEFAULT_LIST_ID,
  startMailchimpEmulator,
  type MailchimpEmulatorOptionsInput,
  type RunningMailchimpEmulator,
} from '../connectors/mailchimp/emulator/index.js';
import { derivedMailchimpMappings } from '../connectors/mailchimp/mapping.js';
import http from '../connectors/http/connector.js';
import { startHttpEmulator, type RunningHttpEmulator } from '../connectors/http/emulator/index.js';
import segment from '../connectors/segment/connector.js';
import { SegmentConfig, type SegmentConfigInput } from '../connectors/segment/config.js';
import {
  DEFAULT_SPACE_ID,
  startSegmentEmulator,
  type EmulatorRuntime as SegmentEmulatorRuntime,
  type RunningSegmentEmulator,
  type SegmentEmulatorOptionsInput,
} from '../connectors/segment/emulator/index.js';
import { derivedSegmentMappings } from '../connectors/segment/mapping.js';
import { exampleInstance } from './http-systems.js';
import { createTestDatabase, type TestDatabase, type TestDialect } from './db.js';
import { salesforceOutboundUrl, TEST_SF_OUTBOUND_TOKEN } from './hub-config.js';
import { createTestEngine, deletePrefix, REDIS_URL, testLogger } from './sync-hub.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

export const HUBSPOT_SECRET = 'privacy-hubspot-client-secret';
const HUBSPOT_APP_ID = 8088;
const SF_CLIENT = 'privacy-connected-app';
const SF_SECRET = 'privacy-salesforce-secret';
export const SF_ORG = '00D5e000000PrvEEAA';
export const SIGNING_SECRET = 'privacy-signing-secret-0123456789abcdef0123456789';
export const ADMIN_KEY = 'privacy-admin-key-0123456789abcdef';
export const DSR_KEY = 'privacy-dsr-key-0123456789abcdef';
export const READ_KEY = 'privacy-read-key-0123456789abcdef';
/** The Mailchimp instance's API key and the secret in its webhook URL. */
export const MAILCHIMP_KEY = 'privacy-mailchimp-key-us1';
export const MAILCHIMP_URL_SECRET = 'privacy-mailchimp-url-secret-0123456789abcdef';
/** The Segment instance's write key, Profile API and Public API tokens, and its Webhooks destination's secret. */
export const SEGMENT_WRITE_KEY = 'privacy-segment-write-key';
export const SEGMENT_PROFILE_TOKEN = 'privacy-segment-profile-token';
export const SEGMENT_PUBLIC_API_TOKEN = 'privacy-segment-public-api-token';
export const SEGMENT_WEBHOOK_SECRET = 'privacy-segment-webhook-secret-0123456789';
/** The workspace's consent category that stands for marketing e-mail, and the traits of the catalog. */
export const SEGMENT_EMAIL_CATEGORY = 'Email Marketing';
export const SEGMENT_CONSENT_TRAIT = 'email_marketing_consent';
export const SEGMENT_NEWSLETTER_TRAIT = 'newsletter_subscribed';
export const SUBSCRIPTIONS = [
  SubscriptionType.parse({ id: 101, consent: 'marketing.email' }),
  SubscriptionType.parse({ id: 103, topic: 'newsletter' }),
];

/** Written in English; Japanese visitors get the Japanese interface with these English texts (an explicit fallback). */
export const CATALOG = Catalog.parse({
  locales: ['en', 'ja'],
  fallback: 'defaultLocale',
  channels: { email: { title: 'E-mail' } },
  purposes: {
    marketing: {
      title: 'Marketing communications',
      notice: { text: 'We would like to send you offers.', version: '2026-01' },
      objection: 'directMarketing',
      channels: ['email'],
    },
    personalisation: {
      title: 'Personalised content',
      notice: { text: 'We tailor what we show you.', version: '2026-01' },
      objection: 'profiling',
      channels: ['email'],
    },
  },
  topics: { newsletter: { title: 'Newsletter' } },
});

/** Short timings for the privacy module. */
export const PRIVACY_TUNING = {
  eraseBatchWaitMs: 20,
  backoff: { baseMs: 100, maxMs: 600, jitter: 0.2 },
  trackFirstDelayMs: 50,
  trackMaxDelayMs: 300,
  sweepEveryMs: 2_000,
  callRetryMinMs: 10,
  limiterMarginMs: 10,
} as const;

export interface PrivacyHub {
  db: TestDatabase;
  store: Store;
  engine: Engine;
  privacy: PrivacyService;
  hubIngest: HubPatchIngest;
  app: FastifyInstance;
  /** Where the server listens. */
  url: string;
  hubspot: RunningHubSpotEmulator;
  /** In front of HubSpot's API: `fail()` makes it answer 500s. */
  hubspotProxy: FaultProxy;
  salesforce: RunningSalesforceEmulator;
  /** With `mailchimp`: its emulator (the audience `DEFAULT_LIST_ID`). */
  mailchimp?: RunningMailchimpEmulator;
  /** With `segment`: its emulator (space `DEFAULT_SPACE_ID`). */
  segment?: RunningSegmentEmulator;
  /** With `http`: the HTTP emulator, whose REST CRM is instance `crm` (`config/examples/http-crm.yaml`). */
  http?: RunningHttpEmulator;
  /** With `mail`: the SMTP catcher the hub's mails (nodemailer over SMTP) arrive at. */
  mailCatcher?: MailCatcher;
  /** The public request page's verifications (with `mail`): its `notify` is the privacy service's `onSettled`. */
  verifications?: RequesterVerifications;
  /** Waits until webhooks are delivered and the engine has nothing left to do (three times in a row). */
  settle(timeoutMs?: number): Promise<void>;
  /** Polls a request until `done(view)` holds. */
  waitFor(id: string, done: (view: DsrView) => boolean, timeoutMs?: number): Promise<DsrView>;
  profileByEmail(email: string): Promise<Profile | null>;
  close(): Promise<void>;
}

export interface PrivacyHubOptions {
  dialect: TestDialect;
  /** The deployment's Redis prefix (a fresh one otherwise). */
  prefix?: string;
  privacy?: PrivacyOptionsInput;
  hubspotEmulator?: Partial<HubSpotEmulatorOptionsInput>;
  salesforceEmulator?: Partial<SalesforceEmulatorOptionsInput>;
  /** HubSpot's account limit per 10 s as the connector paces it (the emulator enforces its own). */
  hubspotRequestsPer10Seconds?: number;
  tuning?: EngineTuningInput;
  /** Pull schedules are off unless asked for (webhooks carry the changes). */
  pullEveryMs?: number;
  /** The privacy service's clock (deadlines, overdue). */
  clock?: () => number;
  /** How long preference-center download links last. */
  downloadLinkTtlMs?: number;
  /**
   * Mailchimp as a third system (instance `mailchimp`, a consent authority for marketing, the
   * newsletter interest as the topic): `true`, or the connector's keys to change.
   */
  mailchimp?: boolean | Partial<MailchimpConfigInput>;
  mailchimpEmulator?: Partial<MailchimpEmulatorOptionsInput>;
  /**
   * Segment as another system (instance `segment`, its Profile and Public APIs, marketing e-mail
   * as the consent category `SEGMENT_EMAIL_CATEGORY` and the trait `SEGMENT_CONSENT_TRAIT`, the
   * newsletter as `SEGMENT_NEWSLETTER_TRAIT`; regulations asked after every 50 ms): `true`, or the
   * connector's keys to change.
   */
  segment?: boolean | Partial<SegmentConfigInput>;
  /** The Segment emulator's options (regulations step every 50 ms unless changed here). */
  segmentEmulator?: Partial<SegmentEmulatorOptionsInput>;
  /** The Segment emulator's clock (regulation steps, dedupe window). */
  segmentEmulatorRuntime?: SegmentEmulatorRuntime;
  /**
   * The example REST CRM of the generic HTTP connector (instance `crm`, `config/examples/http-crm.yaml`
   * as written, on the HTTP emulator: webhooks both ways, marketing consents and the newsletter).
   */
  http?: boolean;
  /**
   * The public request page and its mails: an SMTP catcher on a free port, nodemailer sending to
   * it, links valid `ttlMs` (default 1 h) by the `clock` given (default the real one), and the
   * limits per address and per client.
   */
  mail?: {
    ttlMs?: number;
    clock?: () => number;
    limits?: { perAddress?: number; perClient?: number; windowMs?: number };
    /** The YAML's `hub.mail.texts`. */
    texts?: MailTexts;
  };
  /** The catalog (locales, texts) the pages and mails use; `CATALOG` by default. */
  catalog?: Catalog;
}

export async function startPrivacyHub(options: PrivacyHubOptions): Promise<PrivacyHub> {
  const db = await createTestDatabase(options.dialect);
  const prefix = options.prefix ?? `{dsr-${randomBytes(5).toString('hex')}}`;
  const withMailchimp = options.mailchimp !== undefined && options.mailchimp !== false;
  const withSegment = options.segment !== undefined && options.segment !== false;
  const withHttp = options.http === true;
  const systems = [
    'hubspot',
    'salesforce',
    ...(withMailchimp ? ['mailchimp'] : []),
    ...(withSegment ? ['segment'] : []),
    ...(withHttp ? ['crm'] : []),
  ];
  const authorities = [...systems, 'admin', 'preference_center'];
  const policy = MergePolicy.parse({
    priorities: {
      hubspot: 2,
      salesforce: 1,
      ...(withMailchimp ? { mailchimp: 1 } : {}),
      ...(withSegment ? { segment: 1 } : {}),
      ...(withHttp ? { crm: 1 } : {}),
    },
    purposes: {
      marketing: { authorities, objection: 'directMarketing' },
      personalisation: { authorities, objection: 'profiling' },
    },
    // As toMergePolicy sets it: only the person, through the hub, lifts a restriction or an objection.
    rightsAuthorities: ['admin', 'preference_center'],
  });
  const store = await openStore({ url: db.url, policy, outboxTargets: systems, hashKey: 'k'.repeat(32) });
  const hubspotEmulator = await startHubSpotEmulator({
    clientSecret: HUBSPOT_SECRET,
    appId: HUBSPOT_APP_ID,
    accessToken: 'pat-privacy',
    webhookBatchMs: 5,
    ...options.hubspotEmulator,
  });
  const proxy = await startFaultProxy(hubspotEmulator.url);
  const sfEmulator = await startSalesforceEmulator({
    clientId: SF_CLIENT,
    clientSecret: SF_SECRET,
    organizationId: SF_ORG,
    outboundBatchMs: 5,
    ...options.salesforceEmulator,
  });

  const sfConfig = SalesforceConfig.parse({
    loginUrl: sfEmulator.url,
    clientId: SF_CLIENT,
    clientSecret: SF_SECRET,
    organizationId: SF_ORG,
    outboundMessageToken: TEST_SF_OUTBOUND_TOKEN,
    channelFlags: { HasOptedOutOfEmail: 'marketing.email' },
    bulkPollIntervalMs: 20,
  });
  const schedule = options.pullEveryMs ? { schedule: { every: options.pullEveryMs } } : {};
  const mcEmulator = withMailchimp ? await startMailchimpEmulator({ apiKey: MAILCHIMP_KEY, ...options.mailchimpEmulator }) : undefined;
  const connectors = [
    bindConnector({
      id: 'hubspot',
      definition: hubspot,
      config: HubSpotConfig.parse({
        accessToken: 'pat-privacy',
        webhookSecret: HUBSPOT_SECRET,
        baseUrl: proxy.url,
        subscriptions: SUBSCRIPTIONS,
        appId: HUBSPOT_APP_ID,
        ...(options.hubspotRequestsPer10Seconds ? { requestsPer10Seconds: options.hubspotRequestsPer10Seconds } : {}),
      }),
      mapping: compileMapping(hubspot, subscriptionMappings(SUBSCRIPTIONS)),
      ...schedule,
    }),
    bindConnector({
      id: 'salesforce',
      definition: salesforce,
      config: sfConfig,
      mapping: compileMapping(salesforce, salesforceMappings(sfConfig)),
      ...schedule,
    }),
  ];
  if (mcEmulator) {
    const mcConfig = MailchimpConfig.parse({
      apiKey: MAILCHIMP_KEY,
      baseUrl: mcEmulator.apiUrl,
      listId: DEFAULT_LIST_ID,
      webhookSecret: MAILCHIMP_URL_SECRET,
      interests: [{ id: DEFAULT_INTEREST_IDS.newsletter, topic: 'newsletter' }],
      batchPollMs: 20,
      ...(typeof options.mailchimp === 'object' ? options.mailchimp : {}),
    });
    connectors.push(
      bindConnector({
        id: 'mailchimp',
        definition: mailchimp,
        config: mcConfig,
        mapping: compileMapping(
          mailchimp,
          derivedMailchimpMappings(mcConfig).map((d) => d.entry),
        ),
        ...schedule,
      }),
    );
  }
  const segmentEmulator = withSegment
    ? await startSegmentEmulator(
        { secret: SEGMENT_WEBHOOK_SECRET, regulationStepMs: 50, ...options.segmentEmulator },
        options.segmentEmulatorRuntime,
      )
    : undefined;
  if (segmentEmulator) {
    const segmentConfig = SegmentConfig.parse({
      writeKey: SEGMENT_WRITE_KEY,
      baseUrl: segmentEmulator.url,
      spaceId: DEFAULT_SPACE_ID,
      profileToken: SEGMENT_PROFILE_TOKEN,
      publicApiToken: SEGMENT_PUBLIC_API_TOKEN,
      webhookSecret: SEGMENT_WEBHOOK_SECRET,
      regulationPollMs: 50,
      consentCategories: [{ category: SEGMENT_EMAIL_CATEGORY, consent: 'marketing.email' }],
      consentTraits: [{ trait: SEGMENT_CONSENT_TRAIT, consent: 'marketing.email' }],
      subscriptionTraits: [{ trait: SEGMENT_NEWSLETTER_TRAIT, topic: 'newsletter' }],
      ...(typeof options.segment === 'object' ? options.segment : {}),
    });
    connectors.push(
      bindConnector({
        id: 'segment',
        definition: segment,
        config: segmentConfig,
        mapping: compileMapping(
          segment,
          derivedSegmentMappings(segmentConfig).map((d) => d.entry),
        ),
        ...schedule,
      }),
    );
  }
  const httpEmulator = withHttp ? await startHttpEmulator({ webhookRetryBaseMs: 20 }) : undefined;
  if (httpEmulator) {
    const crm = await exampleInstance('crm', httpEmulator.url);
    connectors.push(
      bindConnector({ id: 'crm', definition: http, config: crm.config, mapping: compileMapping(http, crm.mappings), ...schedule }),
    );
  }
  const logger = testLogger();
  const catalog = options.catalog ?? CATALOG;
  const catcher = options.mail ? await startMailCatcher() : undefined;
  const mailer = catcher
    ? smtpMailer({ from: 'Acme Privacy <privacy@acme.example>', target: { host: catcher.host, port: catcher.port, secure: false } })
    : undefined;
  const noticeDownloads = new DownloadLinks(SIGNING_SECRET, 24 * 3_600_000);
  // The public URL is where the server listens: HubSpot signs the URL it was given.
  const port = await freePort();
  const verifications =
    mailer && options.mail
      ? new RequesterVerifications({
          store,
          mailer,
          signingSecret: SIGNING_SECRET,
          publicUrl: `http://127.0.0.1:${port}`,
          brand: { name: 'Acme', accent: '#1f5f8b', supportEmail: 'privacy@acme.example' },
          mailTexts: { ...(options.mail.texts ? { texts: options.mail.texts } : {}), defaultLocale: catalog.defaultLocale },
          ttlMs: options.mail.ttlMs ?? 3_600_000,
          limits: { perAddress: 3, perClient: 10, windowMs: 3_600_000, ...options.mail.limits },
          downloads: noticeDownloads,
          logger,
          now: options.mail.clock ?? Date.now,
        })
      : undefined;
  const engine = createTestEngine({ prefix, store, connectors, policy, logger, ...(options.tuning ? { tuning: options.tuning } : {}) });
  const redis = new Redis(REDIS_URL);
  const hubIngest = new HubPatchIngest({ store, redis, prefix: engine.prefix, relayDelayMs: 5, metrics: engine.metrics });
  const privacy = new PrivacyService({
    store,
    redis: engine.connection,
    prefix: engine.prefix,
    connectors,
    policy,
    ingestPatch: (patch, o) => hubIngest.ingest(patch, o),
    metrics: engine.metrics.registry,
    logger,
    ...(options.clock ? { now: options.clock } : {}),
    options: {
      controller: { name: 'Acme Ltd', email: 'privacy@acme.example', policyUrl: 'https://acme.example/privacy' },
      purposeTitles: { marketing: 'Marketing communications', personalisation: 'Personalised content' },
      ...options.privacy,
      tuning: { ...PRIVACY_TUNING, ...options.privacy?.tuning },
    },
    ...(verifications ? { onSettled: (settled) => verifications.notify(settled) } : {}),
  });
  privacy.attachSources(engine);
  const app = await build({
    hub: {
      publicUrl: `http://127.0.0.1:${port}`,
      mode: 'development',
      secrets: { signing: SIGNING_SECRET, hashKey: 'k'.repeat(32) },
      preferenceCenter: { brand: 'Acme', accentColor: '#1f5f8b', linkTtl: 3_600_000, supportEmail: 'privacy@acme.example' },
    },
    catalog,
    policy,
    store,
    engine,
    connectors,
    ingestPatch: (patch, o) => hubIngest.ingest(patch, o),
    redis,
    metrics: engine.metrics.registry,
    apiKeys: apiKeyRecords([
      { id: 'ops', key: ADMIN_KEY, scopes: ['admin'] },
      { id: 'privacy-team', key: DSR_KEY, scopes: ['dsr'] },
      { id: 'reader', key: READ_KEY, scopes: ['profiles:read'] },
    ]),
    logger,
    privacy,
    ...(options.downloadLinkTtlMs ? { downloadLinkTtlMs: options.downloadLinkTtlMs } : {}),
    ...(verifications && catcher ? { requests: { verifications, downloads: noticeDownloads, catcher } } : {}),
    options: { queueBoard: false, webhookRateLimit: 0, preferencesRateLimit: 10_000, apiRateLimit: 10_000 },
  });
  const url = await listen(app, { host: '127.0.0.1', port });
  hubspotEmulator.sideDoor.setWebhookUrl(`${url}/webhooks/hubspot`);
  sfEmulator.sideDoor.setWebhookUrl(salesforceOutboundUrl(url));
  mcEmulator?.sideDoor.setWebhookUrl(`${url}/webhooks/mailchimp/${MAILCHIMP_URL_SECRET}`);
  // Segment's Webhooks destination sends every identify it accepts there, the hub's own included.
  segmentEmulator?.sideDoor.setWebhookUrl(`${url}/webhooks/segment`);
  httpEmulator?.sideDoor.setWebhookUrl(`${url}/webhooks/crm`, 'crm');
  await engine.start();
  await privacy.start(engine);

  return {
    db,
    store,
    engine,
    privacy,
    hubIngest,
    app,
    url,
    hubspot: hubspotEmulator,
    hubspotProxy: proxy,
    salesforce: sfEmulator,
    ...(mcEmulator ? { mailchimp: mcEmulator } : {}),
    ...(segmentEmulator ? { segment: segmentEmulator } : {}),
    ...(httpEmulator ? { http: httpEmulator } : {}),
    ...(catcher ? { mailCatcher: catcher } : {}),
    ...(verifications ? { verifications } : {}),
    async settle(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      while (quiet < 3) {
        if (Date.now() > deadline) throw new Error(`hub did not settle: ${JSON.stringify(await engine.status())}`);
        await hubspotEmulator.sideDoor.flushWebhooks();
        await sfEmulator.sideDoor.flushWebhooks();
        await mcEmulator?.sideDoor.flushWebhooks();
        await segmentEmulator?.sideDoor.flushWebhooks();
        await httpEmulator?.sideDoor.flushWebhooks();
        quiet = (await engine.idle()) ? quiet + 1 : 0;
        await sleep(80);
      }
    },
    async waitFor(id, done, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await privacy.get(id);
        if (!view.ok) throw view.error;
        if (done(view.value)) return view.value;
        if (Date.now() > deadline) throw new Error(`request ${id} did not get there: ${JSON.stringify(view.value)}`);
        await sleep(50);
      }
    },
    profileByEmail: (email) => store.findProfile({ kind: 'email', value: email }),
    async close() {
      await privacy.close();
      await engine.close();
      await app.close();
      await hubIngest.close();
      redis.disconnect();
      await hubspotEmulator.close();
      await proxy.close();
      await sfEmulator.close();
      await mcEmulator?.close();
      await segmentEmulator?.close();
      await httpEmulator?.close();
      mailer?.close();
      await catcher?.close();
      await store.close();
      await deletePrefix(prefix);
      await db.drop();
    },
  };
}
