/**
 * The privacy module's options: what the YAML says (`hub.privacy`, see `fromConfig`) plus
 * tuning knobs whose defaults suit production and which tests shorten.
 */
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { textIn } from '../config/localized.js';
import { BackoffPolicy } from '../queue/backoff.js';

const ms = z.number().int().nonnegative();
const count = z.number().int().positive();

export const PrivacyTuning = z.object({
  /** Erasures one call to a system carries (their references together). */
  eraseBatchSize: count.default(100),
  /** A partial batch of erasures goes once its oldest has waited this long. */
  eraseBatchWaitMs: ms.default(200),
  /** Erasures taken by a worker come back after this if it dies; renewed while it works. */
  eraseLeaseMs: count.default(120_000),
  /** Attempts of one system's erasure before it is marked failed. */
  eraseMaxAttempts: count.default(12),
  /**
   * A system that carries an erasure out later (a `pending` outcome) is asked how it is going
   * after the wait it suggests (`checkAfterMs`), kept within these bounds.
   */
  erasePollMinMs: count.default(1_000),
  erasePollMaxMs: count.default(3_600_000),
  /** Backoff between attempts of a failing system (exponential, with jitter). */
  backoff: BackoffPolicy.prefault({ baseMs: 2_000, maxMs: 10 * 60_000 }),
  /** Rectification, restriction, objection: first check that every system got the change. */
  trackFirstDelayMs: count.default(500),
  /** Longest wait between two checks. */
  trackMaxDelayMs: count.default(60_000),
  /** How long delivery is tracked before a system is reported as not confirmed. */
  trackForMs: count.default(24 * 3_600_000),
  /** Attempts of an export job (live reads from systems are retried with it). */
  exportAttempts: count.default(5),
  /** Attempts of reading back a record a source asked to erase and the hub does not know (`source-check.ts`). */
  sourceCheckAttempts: count.default(5),
  /** Safety net: re-drives requests whose work was lost (e.g. Redis restarted). */
  sweepEveryMs: count.default(60_000),
  /** Transient failures of one call retried at once, before the attempt counts as failed. */
  callRetries: z.number().int().nonnegative().default(2),
  callRetryMinMs: ms.default(200),
  /** The engine's limiter margin (see EngineTuning.limiterMarginMs). */
  limiterMarginMs: ms.default(25),
  /**
   * Longest a worker of a parked erase queue sleeps before it asks whether the park still
   * holds (see EngineTuning.parkRecheckMs).
   * @defaultValue 1_000
   */
  parkRecheckMs: count.default(1_000),
});
export type PrivacyTuning = z.infer<typeof PrivacyTuning>;
export type PrivacyTuningInput = z.input<typeof PrivacyTuning>;

export const PrivacyOptions = z.object({
  /** Connector ids every erasure reaches, by e-mail address, even without a known record there. */
  alwaysErase: z.array(z.string()).default([]),
  /** Read each system back after erasing (where its API allows) and retry while the person is found. */
  verifyErasure: z.boolean().default(true),
  /** How long a prepared export is kept for download (ms). */
  exportTtlMs: count.default(7 * 86_400_000),
  /** The data controller named in exports and consent receipts. */
  controller: z
    .object({
      name: z.string().min(1).default('Concord'),
      email: z.string().optional(),
      address: z.string().optional(),
      policyUrl: z.string().optional(),
      jurisdiction: z.string().default('EU'),
    })
    .prefault({}),
  /** Purpose id -> title, for consent receipts. */
  purposeTitles: z.record(z.string(), z.string()).default({}),
  /** Storage limitation (`hub.privacy.retention`, durations in ms). */
  retention: z
    .object({
      everyMs: count.default(86_400_000),
      maxErasuresPerRun: count.default(1000),
      rules: z
        .array(
          z.object({
            id: z.string().min(1),
            description: z.string().optional(),
            inactiveForMs: count,
            withoutConsent: z.boolean().default(true),
            action: z.enum(['report', 'erase']).default('report'),
          }),
        )
        .default([]),
    })
    .prefault({}),
  tuning: PrivacyTuning.prefault({}),
});
export type PrivacyOptions = z.infer<typeof PrivacyOptions>;
export type PrivacyOptionsInput = z.input<typeof PrivacyOptions>;

/** The options from a loaded `concord.yaml` (the controller defaults to the preference-center brand). */
export function privacyOptionsFromConfig(config: Config, tuning?: PrivacyTuningInput): PrivacyOptionsInput {
  const p = config.hub.privacy;
  return {
    alwaysErase: p.alwaysErase,
    verifyErasure: p.verifyErasure,
    exportTtlMs: p.exportTtl,
    controller: {
      name: p.controller.name ?? config.hub.preferenceCenter.brand,
      jurisdiction: p.controller.jurisdiction,
      ...(p.controller.email
        ? { email: p.controller.email }
        : config.hub.preferenceCenter.supportEmail
          ? { email: config.hub.preferenceCenter.supportEmail }
          : {}),
      ...(p.controller.address ? { address: p.controller.address } : {}),
      ...(p.controller.policyUrl ? { policyUrl: p.controller.policyUrl } : {}),
    },
    purposeTitles: Object.fromEntries(
      Object.entries(config.catalog.purposes).map(([id, purpose]) => [
        id,
        textIn(purpose.title, config.catalog.defaultLocale, config.catalog.defaultLocale).text,
      ]),
    ),
    retention: {
      everyMs: p.retention.every,
      maxErasuresPerRun: p.retention.maxErasuresPerRun,
      rules: p.retention.rules.map(({ inactiveFor, ...rule }) => ({ ...rule, inactiveForMs: inactiveFor })),
    },
    ...(tuning ? { tuning } : {}),
  };
}
