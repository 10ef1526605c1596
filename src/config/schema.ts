/**
 * The zod schema of `concord.yaml`. It is built from the connector registry so each connector
 * type's own `configSchema` plugs in under `connectors.<instanceId>`, discriminated by `type`.
 * Every object is strict: an unknown key is an error.
 */
import { z } from 'zod';
import type { ConnectorDefinition } from '../connector/define.js';
import { MappingEntry } from '../connector/mapping-schema.js';
import { LegalBasis, ObjectionKind, PurposePolicy } from '../profile/schema.js';
import { Duration } from './duration.js';
import { LocaleFallback, LocaleTag, LocalizedText, LocalizedVersion } from './localized.js';
import type { MailKind } from '../mail/texts.js';
import { MetricsEndpoint, TrustProxy } from './network.js';
import { credentialUrl, generatedSecret, markSecret, secret } from './secret.js';

/** Source ids the hub itself uses; no connector instance may take them. */
export const HUB_SOURCES = ['preference_center', 'admin'] as const;

/** Keys every connector instance has, whatever its type. */
export const CONNECTOR_COMMON_KEYS = [
  'type',
  'displayName',
  'enabled',
  'schedule',
  'priority',
  'consentAuthority',
  'mappings',
  'limits',
  'initialSync',
] as const;

/** The keys of an instance that belong to its connector type (not the common ones). */
export function ownConfig(instance: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const common: readonly string[] = CONNECTOR_COMMON_KEYS;
  return Object.fromEntries(Object.entries(instance).filter(([key]) => !common.includes(key)));
}

/** An id in the catalog (purpose, channel, topic). No dots: consent mappings write `purpose.channel`. */
export const CatalogId = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'expected an id of letters, digits, _ or - that starts with a letter (at most 64 characters)');

/** A connector instance id, used as the source id of everything it reports. */
export const InstanceId = CatalogId;

function isUrl(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const RedisUrl = credentialUrl(
  z.string().refine((v) => isUrl(v, ['redis:', 'rediss:']), 'expected a redis:// or rediss:// URL'),
  'Redis connection URL.',
);

const HostPort = z
  .object({
    host: z.string().min(1).meta({ description: 'Host name or address.' }),
    port: z.number().int().min(1).max(65_535).meta({ description: 'TCP port.' }),
  })
  .strict();

/**
 * Options handed to ioredis as they are (`RedisOptions` / `ClusterOptions`: TLS, timeouts,
 * `username`…). A password must come from `${env:NAME}` like every other secret.
 */
const RedisClientOptions = z
  .object({ password: secret('Password of the Redis nodes (AUTH).').optional() })
  .catchall(z.unknown())
  .meta({ description: 'Options passed through to ioredis (https://redis.github.io/ioredis/interfaces/CommonRedisOptions.html).' });

/** A Redis Cluster: seed nodes, the rest is discovered (`CLUSTER SLOTS`). */
export const RedisClusterConfig = z
  .object({
    cluster: z
      .object({
        nodes: z.array(RedisUrl).min(1).meta({ description: 'Seed nodes (redis:// URLs); the other nodes are discovered from them.' }),
        natMap: z
          .record(z.string(), HostPort)
          .optional()
          .meta({ description: "Maps the addresses the nodes announce ('host:port') to ones the hub can reach (ioredis natMap)." }),
        options: RedisClientOptions.optional().meta({
          description: 'ioredis ClusterOptions passed through (https://redis.github.io/ioredis/interfaces/ClusterOptions.html).',
        }),
      })
      .strict(),
  })
  .strict();
export type RedisClusterConfig = z.infer<typeof RedisClusterConfig>;

/** A Redis watched by Sentinel: the hub asks the sentinels where the master of `name` is. */
export const RedisSentinelConfig = z
  .object({
    sentinel: z
      .object({
        sentinels: z.array(HostPort).min(1).meta({ description: 'The sentinels to ask.' }),
        name: z.string().min(1).meta({ description: 'The master group name the sentinels monitor.' }),
        sentinelPassword: secret('Password of the sentinels.').optional(),
        options: RedisClientOptions.optional().meta({
          description: 'ioredis RedisOptions passed through (https://redis.github.io/ioredis/interfaces/SentinelConnectionOptions.html).',
        }),
      })
      .strict(),
  })
  .strict();
export type RedisSentinelConfig = z.infer<typeof RedisSentinelConfig>;

/** Where Redis is: one URL, a Cluster or a Sentinel group. */
export const RedisConnection = z.union([RedisUrl, RedisClusterConfig, RedisSentinelConfig]).meta({
  description: 'Redis: a redis:// URL, { cluster: { nodes, natMap?, options? } } or { sentinel: { sentinels, name, options? } }.',
});
export type RedisConnection = z.infer<typeof RedisConnection>;

/** `sqlite:<file>`, `sqlite::memory:`, or a `postgres://` / `postgresql://` URL. */
const DatabaseUrl = credentialUrl(
  z
    .string()
    .refine(
      (v) => /^sqlite:.+/.test(v) || isUrl(v, ['postgres:', 'postgresql:']),
      'expected sqlite:<file>, sqlite::memory: or a postgres:// URL',
    ),
  'Database URL: sqlite:<file> (embedded) or postgres://user@host:5432/db.',
);

const HttpUrl = z
  .string()
  .refine((v) => isUrl(v, ['http:', 'https:']), 'expected an http:// or https:// URL')
  .meta({ description: 'The URL the hub is reached at (webhooks, preference-center links).' });

export const HubMode = z.enum(['development', 'production']).meta({
  description: 'development allows ${env:NAME:-default} fallbacks for secrets and requires a loopback publicUrl. Default: production.',
});
export type HubMode = z.infer<typeof HubMode>;

/** What an admin API key may do. `admin` includes every other scope. */
export const ApiScope = z.enum(['profiles:read', 'profiles:write', 'dsr', 'queues:read', 'audit:read', 'admin']).meta({
  description:
    'profiles:read (find and read profiles, their history of values, consent history, sync state), profiles:write (patch profiles, issue preference links; a patch answers the profile only to keys that also have profiles:read), dsr (data-subject requests), queues:read (view the queue board read-only; its jobs carry record data, so grant it like profiles:read), audit:read (the audit log: who changed what and when, without values), admin (connectors, dead letters, the queue board with its actions; includes every scope).',
});
export type ApiScope = z.infer<typeof ApiScope>;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 digest of the key (64 lower-case hex digits)');

const UNTIL_FORMAT = 'expected an ISO 8601 date-time such as 2026-12-31T00:00:00Z';

/**
 * The key an admin key replaces, still accepted until `until` so clients can switch without
 * downtime (see docs/DEPLOY.md, "Rotating an admin API key").
 */
export const PreviousApiKeyConfig = z
  .object({
    sha256: Sha256Hex.meta({ description: 'The hex SHA-256 digest of the old key (the `sha256` the key had before).' }),
    until: z
      .string()
      .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/, UNTIL_FORMAT)
      .refine((value) => !Number.isNaN(Date.parse(value)), UNTIL_FORMAT)
      .meta({
        description:
          'When the old key stops being accepted (an ISO 8601 date-time such as 2026-12-31T00:00:00Z), checked on every request: no restart needed for it to lapse.',
      }),
  })
  .strict();
export type PreviousApiKeyConfig = z.infer<typeof PreviousApiKeyConfig>;

/**
 * One admin API key. The hub keeps only its SHA-256 digest: give only its digest as `sha256`
 * (`concord key create` prints a key and its digest), or the key itself as `key: ${env:NAME}`
 * (hashed when the config loads; production mode warns). `previous` keeps the old key valid
 * for a while during a rotation.
 */
export const ApiKeyConfig = z
  .object({
    id: CatalogId.meta({ description: 'A name for the key, shown in logs and the audit trail (never the key).' }),
    key: generatedSecret(
      z.string().min(24),
      'The bearer key (at least 24 characters); the hub keeps only its SHA-256 digest. Production mode warns: prefer sha256.',
    ).optional(),
    sha256: Sha256Hex.optional().meta({
      description:
        'The hex SHA-256 digest of the key (`concord key create` prints one), so the plain key need not be in the environment at all.',
    }),
    previous: PreviousApiKeyConfig.optional().meta({
      description: 'During a rotation: the old key of this id, accepted beside the new one until `until`.',
    }),
    scopes: z.array(ApiScope).min(1).meta({ description: 'What the key may do (at least one scope).' }),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.sha256 === undefined), 'an API key needs exactly one of key, sha256');
export type ApiKeyConfig = z.infer<typeof ApiKeyConfig>;

const HexColor = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'expected a colour such as #1f5f8b');

/** How the self-service preference center looks and how long its links last. */
export const PreferenceCenterConfig = z
  .object({
    brand: z.string().min(1).max(80).default('Concord').meta({ description: 'The brand name shown on the page.' }),
    accentColor: HexColor.default('#1f5f8b').meta({
      description: 'The accent colour of buttons and switches; pick one with at least 4.5:1 contrast against white.',
    }),
    linkTtl: Duration.prefault('30d').meta({ description: 'How long a preference-center link stays valid by default.' }),
    supportEmail: z.email().optional().meta({ description: 'Shown to people whose link no longer works.' }),
  })
  .strict();
export type PreferenceCenterConfig = z.infer<typeof PreferenceCenterConfig>;

/** One storage-limitation rule (Art. 5(1)(e)): which profiles it selects and what it does with them. */
export const RetentionRule = z
  .object({
    id: CatalogId.meta({
      description: 'A name for the rule, shown in reports and recorded as the actor of its erasures (retention:<id>).',
    }),
    description: z.string().min(1).max(500).optional().meta({ description: 'Why the rule exists, for the report.' }),
    inactiveFor: Duration.refine((ms) => ms >= 86_400_000, 'at least 1d: a retention rule erases people').meta({
      description: 'Selects profiles that no system and no person changed for this long (their last change), e.g. 540d.',
    }),
    withoutConsent: z.boolean().default(true).meta({
      description: 'Selects only profiles with no consent granted (an expired grant counts as none) and no subscription. Default: true.',
    }),
    action: z.enum(['report', 'erase']).default('report').meta({
      description:
        'report: each scheduled run only reports what the rule selects (audit row retention.report); erase: each run erases them in every system like an erasure request (origin retention). Default: report, so the first runs are dry runs.',
    }),
  })
  .strict();
export type RetentionRule = z.infer<typeof RetentionRule>;

/** Storage limitation: rules run on a schedule, with a dry run first. */
export const RetentionConfig = z
  .object({
    every: Duration.prefault('1d').meta({ description: 'How often the rules run. Default: 1d.' }),
    maxErasuresPerRun: z.number().int().min(1).max(100_000).default(1000).meta({
      description:
        'At most this many erasures one run starts (the rest wait for the next run), so that a first run spreads over the systems’ rate limits. Default: 1000.',
    }),
    rules: z.array(RetentionRule).default([]).meta({ description: 'The rules; none by default (nothing is erased on a schedule).' }),
  })
  .strict()
  .superRefine((retention, ctx) => {
    const seen = new Set<string>();
    retention.rules.forEach((rule, i) => {
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `rule id "${rule.id}" is used twice` });
      seen.add(rule.id);
    });
  });
export type RetentionConfig = z.infer<typeof RetentionConfig>;

/**
 * Data-subject requests (GDPR Art. 15-22): which systems every erasure reaches, how long an
 * export waits for download, and the controller named in consent receipts.
 */
export const PrivacyConfig = z
  .object({
    alwaysErase: z.array(InstanceId).default([]).meta({
      description:
        'Connector instances every erasure reaches, even when the hub knows of no record of the person there (asked by e-mail address).',
    }),
    verifyErasure: z
      .boolean()
      .default(true)
      .meta({ description: 'Read each system back after erasing, where its API allows, and retry while the person is still found.' }),
    exportTtl: Duration.prefault('7d').meta({
      description: 'How long a prepared export (access or portability request) is kept for download.',
    }),
    downloadLinkTtl: Duration.prefault('15m').meta({
      description: 'How long a download link the preference center hands out stays valid.',
    }),
    controller: z
      .object({
        name: z.string().min(1).max(200).optional().meta({ description: 'The data controller; defaults to the preference-center brand.' }),
        email: z.email().optional().meta({ description: 'Where people reach the controller about their data.' }),
        address: z.string().min(1).max(500).optional(),
        policyUrl: z.url().optional().meta({ description: 'The privacy notice.' }),
        jurisdiction: z.string().min(1).max(100).default('EU').meta({ description: 'Jurisdiction named in consent receipts.' }),
      })
      .strict()
      .prefault({})
      .meta({ description: 'The data controller named in exports and consent receipts (Kantara Consent Receipt piiControllers).' }),
    retention: RetentionConfig.prefault({}).meta({
      description:
        'Storage limitation: rules that erase profiles kept longer than needed (concord retention --dry-run shows what they select).',
    }),
  })
  .strict();
export type PrivacyConfig = z.infer<typeof PrivacyConfig>;

const SmtpUrl = credentialUrl(
  z.string().refine((v) => isUrl(v, ['smtp:', 'smtps:']), 'expected an smtp:// or smtps:// URL'),
  'SMTP server as a URL, e.g. smtps://user:${env:SMTP_PASSWORD}@mail.example.com:465 (instead of host, port, secure, auth).',
);

const MailPartsConfig = z.object({ subject: LocalizedText.optional(), body: LocalizedText.optional() }).strict();

/** The mails' words per locale, over the English and Japanese texts Concord ships. */
const MailTextsConfig = z
  .object({
    verifyExport: MailPartsConfig.optional(),
    verifyErase: MailPartsConfig.optional(),
    completedExport: MailPartsConfig.optional(),
    completedErase: MailPartsConfig.optional(),
    failedExport: MailPartsConfig.optional(),
    failedErase: MailPartsConfig.optional(),
  } satisfies Record<MailKind, z.ZodType>)
  .strict()
  .meta({
    description:
      'The texts of the mails to data subjects, per mail (verifyExport, verifyErase: the one-time link; completedExport, completedErase: the notice when done; failedExport, failedErase: the notice when it failed) and part (subject, body), each one string (catalog.defaultLocale) or a map locale -> text. Placeholders: {brand}, and {url} {minutes} (verify*), {reference} (completed*, failed*), {download} (completedExport; a body line whose placeholder has no value is left out). Concord ships en and ja texts; every other locale of catalog.locales needs its texts here unless catalog.fallback is defaultLocale.',
  });

/**
 * Outgoing mail (the one-time links of the public request page, the notice when a request
 * completes): an SMTP server, or in development mode an embedded catcher that keeps the mails
 * in memory and shows them at /dev/mail.
 */
export const MailConfig = z
  .object({
    transport: z.enum(['smtp', 'catcher']).default('smtp').meta({
      description:
        'smtp: send through the SMTP server below. catcher: an embedded SMTP server that keeps mails in memory (development mode only).',
    }),
    from: z.string().min(3).max(320).meta({ description: 'The From address, e.g. "Acme Privacy <privacy@acme.example>".' }),
    smtp: z
      .object({
        url: SmtpUrl.optional(),
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65_535).default(587),
        secure: z
          .boolean()
          .default(false)
          .meta({ description: 'TLS from the start (port 465); false upgrades with STARTTLS when offered.' }),
        user: z.string().min(1).optional(),
        password: secret('SMTP password.').optional(),
      })
      .strict()
      .refine((s) => s.url === undefined || s.host === undefined, 'give url or host, not both')
      .optional(),
    catcher: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(0).meta({ description: 'Port of the embedded catcher; 0 picks a free one.' }),
      })
      .strict()
      .prefault({}),
    texts: MailTextsConfig.optional(),
    verificationTtl: Duration.prefault('1h').meta({ description: 'How long a one-time link of the public request page stays valid.' }),
    limits: z
      .object({
        perAddress: z.number().int().positive().default(3).meta({ description: 'Links mailed to one address per window.' }),
        perClient: z.number().int().positive().default(10).meta({ description: 'Requests from one client address per window.' }),
        window: Duration.prefault('1h'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((m) => m.transport !== 'smtp' || m.smtp?.url !== undefined || m.smtp?.host !== undefined, {
    message: 'transport smtp needs smtp.url or smtp.host',
    path: ['smtp'],
  });
export type MailConfig = z.infer<typeof MailConfig>;

/**
 * The sync engine's recovery knobs: how long a crashed worker's holds keep profiles blocked.
 * (Each connector's rate-limit park is its own setting, e.g. Salesforce `requestLimitPark`.)
 */
export const SyncConfig = z
  .object({
    /**
     * How long profiles taken by a push stay leased to it; after a worker crash they are
     * pushed again after this. Longer than the slowest push call.
     * @defaultValue `2m`
     */
    inflightLease: Duration.prefault('2m').meta({
      description:
        'How long profiles taken by a push stay leased to it; after a worker crash they are pushed again after this. Longer than the slowest push call. Default: 2m.',
    }),
    /**
     * How long ingest holds a profile while it commits a change; after a worker crash the
     * profile is free again after this. Longer than the slowest store transaction.
     * @defaultValue `1m`
     */
    ingestLock: Duration.prefault('1m').meta({
      description:
        'How long ingest holds a profile while it commits a change; after a worker crash the profile is free again after this. Default: 1m.',
    }),
    /**
     * How long finished sync runs (pulls, push batches, backfills) are kept for
     * `GET /api/v1/connectors/{id}/runs` and `concord runs`.
     * @defaultValue `30d`
     */
    runRetention: Duration.prefault('30d')
      .refine((ms) => ms >= 3_600_000, 'at least 1h')
      .meta({
        description:
          'How long finished sync runs (pulls, push batches, backfills) are kept for the runs API and `concord runs`. Default: 30d.',
      }),
    /**
     * How long a profile's history entries (why each change won or lost: the history API,
     * `concord profile --history`) are kept; older ones are deleted by the sweep that deletes old runs.
     * @defaultValue `400d`
     */
    historyRetention: Duration.prefault('400d')
      .refine((ms) => ms >= 86_400_000, 'at least 1d')
      .meta({
        description:
          "How long a profile's history entries (why each change won or lost, for the history API and `concord profile --history`) are kept; the runs' sweep deletes older ones. Default: 400d.",
      }),
  })
  .strict();
export type SyncConfig = z.infer<typeof SyncConfig>;

export const HubConfig = z
  .object({
    mode: HubMode.default('production'),
    redisUrl: RedisConnection,
    databaseUrl: DatabaseUrl,
    publicUrl: HttpUrl,
    listen: z
      .object({
        host: z
          .string()
          .min(1)
          .default('127.0.0.1')
          .meta({ description: 'The address to listen on; 0.0.0.0 for every interface (production mode only).' }),
        port: z.number().int().min(0).max(65_535).default(8080).meta({ description: 'The port; 0 picks a free one.' }),
      })
      .strict()
      .prefault({})
      .meta({ description: 'Where the HTTP server listens.' }),
    trustProxy: TrustProxy,
    keyPrefix: z
      .string()
      .regex(/\{[^{}\s]+\}/, 'expected a Redis Cluster hash tag such as {concord}')
      .default('{concord}')
      .meta({ description: 'Prefix of every Redis key; the {hash tag} keeps a queue in one Cluster slot.' }),
    secrets: z
      .object({
        signing: generatedSecret(z.string().min(32), 'Signs preference-center links (at least 32 characters).'),
        hashKey: generatedSecret(
          z.string().min(32),
          'Key of the identity hashes on the suppression list (at least 32 characters). Changing it orphans the suppression list: erased people could come back.',
        ),
      })
      .strict()
      .meta({ description: "The hub's own secrets, each given as ${env:NAME} (`concord secret` prints a new one)." }),
    skew: Duration.prefault('5m').meta({
      description: 'How far in the future a source timestamp may be before it is clamped to receipt time.',
    }),
    apiKeys: z
      .array(ApiKeyConfig)
      .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, 'API key ids must be unique')
      .default([])
      .meta({ description: 'Bearer keys of the admin API (/api/v1) and the queue board, each with its scopes.' }),
    preferenceCenter: PreferenceCenterConfig.prefault({}).meta({
      description: 'How the self-service preference center looks and how long its links last.',
    }),
    privacy: PrivacyConfig.prefault({}).meta({
      description: 'Data-subject requests: which systems every erasure reaches, exports, the controller, retention rules.',
    }),
    mail: MailConfig.optional().meta({
      description: 'Outgoing mail; without it the public request page (/requests) is not served.',
    }),
    sync: SyncConfig.prefault({}).meta({ description: "The sync engine's recovery knobs (leases and locks held by a worker)." }),
    metrics: MetricsEndpoint,
  })
  .strict();
export type HubConfig = z.infer<typeof HubConfig>;

export const Purpose = z
  .object({
    title: LocalizedText,
    description: LocalizedText.optional(),
    notice: z
      .object({
        text: LocalizedText,
        version: LocalizedVersion,
      })
      .strict()
      .meta({ description: 'The notice shown when consent is asked; its version and the locale shown are recorded as evidence.' }),
    purpose: LocalizedText.optional().meta({
      description: "Why the data is collected and what it is used for; shown on the preference center's transparency section.",
    }),
    retention: LocalizedText.optional().meta({
      description:
        'How long the data is kept for this purpose (e.g. "Until you withdraw consent, then 30 days"); shown on the transparency section.',
    }),
    defaultLegalBasis: LegalBasis.default('consent'),
    policy: PurposePolicy.default('latest'),
    objection: ObjectionKind.optional().meta({
      description: 'The objection (Art. 21/22) that, while active, blocks "granted" for this purpose.',
    }),
    channels: z.array(CatalogId).min(1).meta({ description: 'Channel ids this purpose applies to.' }),
  })
  .strict();
export type Purpose = z.infer<typeof Purpose>;

export const Channel = z.object({ title: LocalizedText }).strict();
export type Channel = z.infer<typeof Channel>;

export const Topic = z.object({ title: LocalizedText, description: LocalizedText.optional() }).strict();
export type Topic = z.infer<typeof Topic>;

export const Catalog = z
  .object({
    /**
     * The languages the catalog is written in; the preference center offers exactly these.
     * @defaultValue `[defaultLocale]`
     */
    locales: z
      .array(LocaleTag)
      .min(1)
      .refine((tags) => new Set(tags).size === tags.length, 'a locale is listed twice')
      .optional()
      .meta({
        description:
          'The languages (BCP 47 tags) the catalog is written in; the preference center offers exactly these. The interface itself speaks en and ja; another locale gets the interface in the default locale (English when that has none). Default: [defaultLocale].',
      }),
    /**
     * The language of a text written as a plain string, and of visitors whose language is not in `locales`.
     * @defaultValue `en`
     */
    defaultLocale: LocaleTag.default('en').meta({
      description:
        'The language of a text written as a plain string, and of visitors whose language is not in locales; must be one of locales. Default: en.',
    }),
    /**
     * What a text without a translation in a configured locale does: `none` makes it a
     * validation error, `defaultLocale` shows the default locale's text.
     * @defaultValue `none`
     */
    fallback: LocaleFallback.default('none').meta({
      description:
        "none: every text needs every locale of locales (a missing one is a validation error); defaultLocale: a missing translation shows the default locale's text. Default: none.",
    }),
    purposes: z.record(CatalogId, Purpose).meta({
      description: 'Purpose id -> purpose: what consent is asked for, per channel (consent mappings write purpose.channel).',
    }),
    channels: z.record(CatalogId, Channel).meta({ description: 'Channel id -> channel (e.g. email, sms, web).' }),
    topics: z.record(CatalogId, Topic).default({}).meta({ description: 'Topic id -> subscription topic (e.g. a newsletter).' }),
  })
  .strict()
  .transform(({ locales, ...catalog }) => ({ ...catalog, locales: locales ?? [catalog.defaultLocale] }));
export type Catalog = z.infer<typeof Catalog>;

const CronExpression = z.string().regex(/^\s*\S+(\s+\S+){4,5}\s*$/, 'expected a cron expression with 5 or 6 fields, e.g. "*/15 * * * *"');

/** When to pull: `{every: 5m}` or `{cron: "0 3 * * *"}`. Absent: no scheduled pull. */
export const Schedule = z
  .object({ every: Duration.optional(), cron: CronExpression.optional() })
  .strict()
  .refine((s) => (s.every === undefined) !== (s.cron === undefined), 'a schedule needs exactly one of every, cron');
export type Schedule = z.infer<typeof Schedule>;

const positiveInt = z.number().int().positive();
/** Per-instance overrides of the connector's declared `ConnectorLimits`. */
export const LimitsOverride = z
  .object({
    requestsPerWindow: positiveInt.optional(),
    windowMs: positiveInt.optional(),
    maxBatch: positiveInt.optional(),
    concurrency: positiveInt.optional(),
  })
  .strict();
export type LimitsOverride = z.infer<typeof LimitsOverride>;

/** Which way the first sync with a system goes (`initialSync`). */
export const InitialSync = z.enum(['pull-only', 'push-only', 'both']);
export type InitialSync = z.infer<typeof InitialSync>;

const connectorCommonShape = {
  displayName: LocalizedText.optional().meta({
    description:
      'The name people see for this system (the transparency section of the preference center lists the systems each purpose reaches); default: the instance id.',
  }),
  enabled: z.boolean().default(true).meta({ description: 'false keeps the instance configured but never synced.' }),
  schedule: Schedule.optional().meta({
    description: 'When to pull: {every: 5m} or {cron: "0 3 * * *"} (exactly one). Absent: no scheduled pull.',
  }),
  priority: z.number().int().default(0).meta({ description: 'Breaks timestamp ties between sources: higher wins.' }),
  consentAuthority: z.array(CatalogId).default([]).meta({ description: 'Purpose ids this system may change consent for.' }),
  /**
   * Field mappings on top of the connector's defaults and of the entries it derives from its own
   * keys (`derivedMappings`). Once loaded, the derived entries are merged in (see
   * `derived-mappings.ts`): `connectorsFromConfig` compiles this list as it is.
   */
  mappings: z.array(MappingEntry).default([]).meta({
    description:
      "Field mappings on top of the connector's defaults and of the entries its own keys imply (e.g. HubSpot subscriptions, Salesforce channelFlags), which need not be written here. An entry for the same target and external field as an implied one must say the same.",
  }),
  limits: LimitsOverride.default({}).meta({ description: "Overrides of the connector type's declared rate limits and batch size." }),
  /**
   * Which way the first sync with this system goes.
   * @defaultValue both
   */
  initialSync: InitialSync.default('both').meta({
    description:
      "Which way the first sync goes, until the instance's first full pull has finished. pull-only: the hub is filled from this system first and nothing is pushed to it (its outbox rows wait, and are delivered once the first pull finished). push-only: the first pull takes none of the system's values, it only links the records of people the hub knows (their ids and what they hold, so pushes update them) and saves the cursor, so later pulls are incremental; the hub's values are then pushed. both: the first pull is ingested and pushes start at once. With both and push-only, on an instance with a schedule, pushes create no record in the system until that pull finished (it links the records of people the hub knows; a create before it could duplicate one), while updates of linked records go at once. `concord plan` honours it.",
  }),
};

/** The keys every connector instance has; each type's own keys join these. */
export const ConnectorCommon = z.object({ type: z.string(), ...connectorCommonShape });

/** A connector instance as parsed: the common keys plus its type's own keys. */
export type ConnectorConfig = z.infer<typeof ConnectorCommon> & { readonly [key: string]: unknown };
export type ConnectorConfigInput = z.input<typeof ConnectorCommon> & { readonly [key: string]: unknown };

/** A connector definition whose config schema cannot plug into the YAML schema (a programming error). */
export class ConnectorSchemaError extends Error {
  readonly code = 'config.connector_schema_invalid';
  constructor(
    readonly connectorType: string,
    detail: string,
  ) {
    super(`connector type "${connectorType}": ${detail}`);
    this.name = 'ConnectorSchemaError';
  }
}

function connectorOption(def: ConnectorDefinition) {
  const own = def.configSchema;
  if (!(own instanceof z.ZodObject)) {
    throw new ConnectorSchemaError(def.type, 'configSchema must be a z.object() so its keys can join the common keys');
  }
  const shape: Record<string, z.ZodType> = { ...own.shape };
  for (const key of Object.keys(shape)) {
    if ((CONNECTOR_COMMON_KEYS as readonly string[]).includes(key)) {
      throw new ConnectorSchemaError(def.type, `configSchema key "${key}" clashes with a common connector key`);
    }
  }
  const generated = def.generatedSecretKeys ?? [];
  for (const key of generated) {
    if (!(def.secretKeys ?? []).includes(key))
      throw new ConnectorSchemaError(def.type, `generatedSecretKeys names "${key}", which secretKeys lacks`);
  }
  for (const key of def.secretKeys ?? []) {
    const field = shape[key];
    if (field === undefined) throw new ConnectorSchemaError(def.type, `secretKeys names "${key}", which configSchema lacks`);
    shape[key] = markSecret(field, { generated: generated.includes(key) });
  }
  // The connector's own rules across its keys (zod refinements, e.g. "these two go together")
  // are checks on its object, lost with the shape alone: they join the combined object, so they
  // run on the parsed value (defaults and transforms applied, as the connector wrote them for)
  // and are reported at their place in the file like any other problem.
  return own.safeExtend({ ...shape, ...connectorCommonShape, type: z.literal(def.type) }).strict();
}

/**
 * The connector options are assembled at run time, so zod cannot infer their keys statically.
 * Every option carries the common keys, which is exactly what `ConnectorConfig` promises.
 */
function asConnectorSchema(schema: z.ZodType): z.ZodType<ConnectorConfig, ConnectorConfigInput> {
  return schema as z.ZodType<ConnectorConfig, ConnectorConfigInput>;
}

function connectorEntrySchema(connectors: readonly ConnectorDefinition[]): z.ZodType<ConnectorConfig, ConnectorConfigInput> {
  const seen = new Set<string>();
  for (const def of connectors) {
    if (seen.has(def.type)) throw new ConnectorSchemaError(def.type, 'registered twice');
    seen.add(def.type);
  }
  const [first, ...rest] = connectors.map(connectorOption);
  if (first === undefined) {
    // No connector types are registered, so every instance is of an unknown type.
    return asConnectorSchema(z.object({ type: z.never() }).loose());
  }
  return asConnectorSchema(z.discriminatedUnion('type', [first, ...rest]));
}

/**
 * Builds the schema of the whole YAML file for a registry of connector types.
 * Throws `ConnectorSchemaError` only for a broken connector definition (a programming error).
 */
export function buildConfigSchema(connectors: readonly ConnectorDefinition[]) {
  const entry = connectorEntrySchema(connectors);
  return z
    .object({
      hub: HubConfig,
      catalog: Catalog,
      connectors: z.record(InstanceId, entry).default({}).meta({ description: 'Connector instances: instance id -> {type, ...}.' }),
    })
    .strict()
    .meta({ title: 'Concord configuration', description: 'concord.yaml: the hub, the consent catalog and the connectors.' });
}

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;
/** The parsed configuration (durations in milliseconds, defaults filled in). */
export type Config = z.infer<ConfigSchema>;
export type ConfigInput = z.input<ConfigSchema>;
