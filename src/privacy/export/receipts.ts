/**
 * Consent receipts: each consent-ledger entry as a receipt whose fields follow the Kantara
 * Initiative Consent Receipt Specification v1.1 (the basis of ISO/IEC TS 27560), with the
 * hub's own facts (status, legal basis, evidence, whether the change took effect) under
 * `concord`. Pure.
 */
import { z } from 'zod';
import { ConsentEvidence, ConsentStatus, Instant, LegalBasis, SourceId } from '../../profile/schema.js';
import type { LedgerEntry } from '../../store/types.js';

export const KANTARA_VERSION = 'KI-CR-v1.1.0';

/** The data controller as receipts and exports name it. */
export const Controller = z
  .object({
    name: z.string().meta({ description: 'The PII controller.' }),
    email: z.string().optional(),
    address: z.string().optional(),
    policyUrl: z.string().optional(),
    jurisdiction: z.string(),
  })
  .meta({ description: 'The data controller.' });
export type Controller = z.infer<typeof Controller>;

export const ConsentReceipt = z
  .object({
    version: z.literal(KANTARA_VERSION),
    jurisdiction: z.string(),
    consentTimestamp: z.number().int().meta({ description: 'When the choice was made at its source, in seconds since the epoch.' }),
    collectionMethod: z
      .string()
      .meta({ description: 'How the choice was captured (the evidence method, e.g. preference_center, form, crm_ui).' }),
    consentReceiptID: z.string().meta({ description: 'The id of the consent-ledger entry.' }),
    piiPrincipalId: z.string().meta({ description: 'The person, by the hub’s profile id.' }),
    piiControllers: z.array(
      z.object({
        piiController: z.string(),
        onBehalf: z.boolean(),
        contact: z.string().optional(),
        email: z.string().optional(),
        address: z.string().optional(),
      }),
    ),
    policyUrl: z.string().optional(),
    services: z.array(
      z.object({
        service: z.string().meta({ description: 'The channel (e.g. email).' }),
        purposes: z.array(
          z.object({
            purpose: z.string(),
            purposeCategory: z.array(z.string()),
            consentType: z
              .enum(['EXPLICIT', 'IMPLIED'])
              .meta({ description: 'EXPLICIT when the legal basis is consent; IMPLIED for every other basis (see concord.legalBasis).' }),
            piiCategory: z.array(z.string()),
            primaryPurpose: z.boolean(),
            termination: z.string(),
            thirdPartyDisclosure: z.boolean(),
          }),
        ),
      }),
    ),
    sensitive: z.boolean(),
    spiCat: z.array(z.string()),
    concord: z
      .object({
        status: ConsentStatus,
        previous: ConsentStatus.nullable(),
        accepted: z.boolean().meta({
          description: 'False when the report was recorded but did not take effect (e.g. its source is not an authority for the purpose).',
        }),
        legalBasis: LegalBasis,
        source: SourceId,
        at: Instant,
        recordedAt: z.string(),
        expiresAt: Instant.optional(),
        noticeVersion: z.string().optional(),
        evidence: ConsentEvidence,
      })
      .meta({ description: 'The hub’s record of the choice (GDPR Art. 7(1)).' }),
  })
  .meta({ description: 'A consent receipt aligned with the Kantara Consent Receipt Specification v1.1.' });
export type ConsentReceipt = z.infer<typeof ConsentReceipt>;

const PII_CATEGORY: Record<string, string> = {
  email: 'contact: e-mail address',
  phone: 'contact: phone number',
  sms: 'contact: phone number',
  post: 'contact: postal address',
};

export function consentReceipt(entry: LedgerEntry, controller: Controller, purposeTitle: string | undefined): ConsentReceipt {
  const state = entry.state;
  const title = purposeTitle ?? entry.purpose;
  return {
    version: KANTARA_VERSION,
    jurisdiction: controller.jurisdiction,
    consentTimestamp: Math.floor(Date.parse(state.at) / 1000),
    collectionMethod: state.evidence.method,
    consentReceiptID: entry.id,
    piiPrincipalId: entry.profileId,
    piiControllers: [
      {
        piiController: controller.name,
        onBehalf: false,
        ...(controller.email ? { contact: controller.email, email: controller.email } : {}),
        ...(controller.address ? { address: controller.address } : {}),
      },
    ],
    ...(controller.policyUrl ? { policyUrl: controller.policyUrl } : {}),
    services: [
      {
        service: entry.channel,
        purposes: [
          {
            purpose: title,
            purposeCategory: [entry.purpose],
            consentType: state.legalBasis === 'consent' ? 'EXPLICIT' : 'IMPLIED',
            piiCategory: [PII_CATEGORY[entry.channel] ?? `contact: ${entry.channel}`],
            primaryPurpose: true,
            termination: state.expiresAt ? `expires at ${state.expiresAt}` : 'until withdrawn; it can be withdrawn at any time',
            thirdPartyDisclosure: false,
          },
        ],
      },
    ],
    sensitive: false,
    spiCat: [],
    concord: {
      status: state.value,
      previous: entry.previous,
      accepted: entry.accepted,
      legalBasis: state.legalBasis,
      source: state.source,
      at: state.at,
      recordedAt: entry.recordedAt,
      ...(state.expiresAt ? { expiresAt: state.expiresAt } : {}),
      ...(state.evidence.noticeVersion ? { noticeVersion: state.evidence.noticeVersion } : {}),
      evidence: state.evidence,
    },
  };
}
