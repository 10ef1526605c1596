/**
 * Verifying a requester who has no preference link: they give an e-mail address and what they
 * want (a copy of their data, or its erasure); a one-time link goes to that address, and only
 * when it is opened and confirmed is the data-subject request made (origin
 * `preference_center`, actor `verified_email`).
 *
 * - The link's token is 32 random bytes; the store keeps only its SHA-256, the row is durable
 *   (SQLite or PostgreSQL, never only Redis), it expires (`ttlMs`) and is consumed by one
 *   conditional update, so it confirms one request at most.
 * - The address is kept sealed (AES-256-GCM, a key derived from the signing secret) in that row
 *   only: to send the link, and the notice when the request completes; the row is deleted once
 *   the notice is sent, and unused rows are purged after they expire. The request itself (and
 *   an erasure's proof) never holds it beyond what the erasure needs while it runs.
 * - Limits per address and per client (keyed hashes of each, counted in the same table over a
 *   window); a limited address gets the same answer as every other, and no mail.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import type { Mailer } from '../../mail/index.js';
import type { DsrView, RequestMeta, Result, SettledRequest } from '../../privacy/index.js';
import type { DsrInputData } from '../../privacy/index.js';
import type { Store, VerificationKind } from '../../store/types.js';
import { deriveKey } from '../preferences/links.js';
import type { Brand } from '../preferences/view.js';
import type { DownloadLinks } from '../preferences/downloads.js';
import { renderMail } from '../../mail/index.js';
import type { MailTextSource } from '../../mail/index.js';

export const REQUESTS_PATH = '/requests';
/** The origin and actor of requests made through a verified link. */
export const VERIFIED_META = { origin: 'preference_center', actor: 'verified_email' } as const;

const Email = z.email().max(320);

/**
 * How long the sealed address of a confirmed request that never completed is kept for its
 * notice: past the longest extended deadline (three months after receipt) and then some.
 */
const KEEP_UNSETTLED_MS = 120 * 86_400_000;

export interface RequesterVerificationOptions {
  store: Store;
  mailer: Mailer;
  /** The hub's signing secret (keys for sealing addresses and hashing clients are derived from it). */
  signingSecret: string;
  publicUrl: string;
  brand: Brand;
  /** The mails' words (the YAML's `hub.mail.texts` over the shipped ones) and the catalog's default locale. */
  mailTexts: MailTextSource;
  /** How long a link stays valid (ms). */
  ttlMs: number;
  limits: { perAddress: number; perClient: number; windowMs: number };
  /** Download links put in an export's notice (24 h). */
  downloads?: DownloadLinks;
  logger: Logger;
  now(): number;
}

export type AskOutcome = 'sent' | 'invalid_email' | 'limited_client' | 'limited_address' | 'mail_failed';

export type LinkState = { status: 'valid'; kind: VerificationKind; locale: string } | { status: 'expired' | 'used' | 'unknown' };

export type ConfirmOutcome =
  | { status: 'created'; request: DsrView; kind: VerificationKind }
  | { status: 'expired' | 'used' | 'unknown' }
  | { status: 'failed'; code: string };

/** `privacy.submit` as the confirmation uses it. */
export type Submit = (input: DsrInputData, meta: RequestMeta) => Promise<Result<DsrView>>;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The one-time links of the public request page, and the notices of what they led to. */
export class RequesterVerifications {
  private readonly sealKey: Buffer;
  private readonly clientKey: Buffer;

  constructor(private readonly o: RequesterVerificationOptions) {
    this.sealKey = deriveKey(o.signingSecret, 'requester-address');
    this.clientKey = deriveKey(o.signingSecret, 'requester-client');
  }

  get ttlMs(): number {
    return this.o.ttlMs;
  }

  /**
   * A person asks: checks the limits, records the link and mails it. Every well-formed address
   * gets the same outcome (`sent`) whether or not the hub knows it; `limited_address` is told
   * to the page only to count it, and must be shown as `sent`.
   */
  /** `locale` is one of the catalog's locales: the page's language, and the mails'. */
  async ask(input: { email: string; kind: VerificationKind; locale: string; client: string }): Promise<AskOutcome> {
    const parsed = Email.safeParse(input.email.trim().toLowerCase());
    if (!parsed.success) return 'invalid_email';
    const email = parsed.data;
    const now = this.o.now();
    const since = new Date(now - this.o.limits.windowMs).toISOString();
    const clientHash = createHmac('sha256', this.clientKey).update(input.client).digest('hex');
    if ((await this.o.store.countVerifications({ clientHash, since })) >= this.o.limits.perClient) return 'limited_client';
    const addressHash = this.o.store.hashIdentity({ kind: 'email', value: email });
    if ((await this.o.store.countVerifications({ addressHash, since })) >= this.o.limits.perAddress) {
      this.o.logger.info({ reason: 'address_limit' }, 'requester verification not sent');
      return 'limited_address';
    }
    // Rows of links that expired unused before the window are no longer needed, even to count;
    // nor are those of requests confirmed longer ago than any deadline (three months at most).
    await this.o.store.purgeVerifications(since, new Date(now - KEEP_UNSETTLED_MS).toISOString());
    const token = randomBytes(32).toString('base64url');
    const id = uuidv7();
    await this.o.store.createVerification({
      id,
      tokenHash: tokenHash(token),
      addressHash,
      clientHash,
      kind: input.kind,
      locale: input.locale,
      sealedAddress: this.seal(email),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.o.ttlMs).toISOString(),
    });
    const url = `${this.o.publicUrl.replace(/\/$/, '')}${REQUESTS_PATH}/confirm/${token}?lang=${encodeURIComponent(input.locale)}`;
    const mail = renderMail(this.o.mailTexts, input.kind === 'erase' ? 'verifyErase' : 'verifyExport', input.locale, {
      brand: this.o.brand.name,
      url,
      minutes: String(this.minutes()),
    });
    try {
      await this.o.mailer.send({ to: email, subject: mail.subject, text: mail.text, language: mail.locale });
    } catch (err) {
      // The mail server is away: the same for every address, so saying so reveals nothing.
      await this.o.store.deleteVerification(id);
      this.o.logger.warn({ verificationId: id, err }, 'requester verification could not be mailed');
      return 'mail_failed';
    }
    this.o.logger.info({ verificationId: id, kind: input.kind }, 'requester verification sent');
    return 'sent';
  }

  /** What a link is, without using it (the page a GET opens). */
  async inspect(token: string): Promise<LinkState> {
    if (token.length > 100) return { status: 'unknown' };
    const row = await this.o.store.findVerification(tokenHash(token));
    if (!row) return { status: 'unknown' };
    if (row.consumedAt !== null) return { status: 'used' };
    if (Date.parse(row.expiresAt) <= this.o.now()) return { status: 'expired' };
    return { status: 'valid', kind: row.kind, locale: row.locale };
  }

  /** Uses the link (once) and makes the request it stands for. */
  async confirm(token: string, submit: Submit): Promise<ConfirmOutcome> {
    if (token.length > 100) return { status: 'unknown' };
    const consumed = await this.o.store.consumeVerification(tokenHash(token), new Date(this.o.now()).toISOString());
    if (consumed.status !== 'consumed') return consumed;
    const v = consumed.verification;
    const email = this.unseal(v.sealedAddress);
    if (email === null) return { status: 'failed', code: 'unreadable' };
    const input: DsrInputData =
      v.kind === 'export' ? { kind: 'export', includeLive: true, subject: { email } } : { kind: 'erase', subject: { email } };
    const result = await submit(input, { ...VERIFIED_META, notify: v.id });
    if (!result.ok) {
      this.o.logger.info({ verificationId: v.id, code: result.error.code }, 'verified request refused');
      return { status: 'failed', code: result.error.code };
    }
    await this.o.store.attachVerificationDsr(v.id, result.value.id);
    return { status: 'created', request: result.value, kind: v.kind };
  }

  /**
   * `PrivacyService`'s `onSettled`: a request made through a link completed, so the person is
   * told in their language, and then the row (their sealed address) is deleted; or it failed,
   * so they are told it failed and that the controller follows it up, and the row is kept (a
   * retry that completes tells them again; unsettled rows are swept after `KEEP_UNSETTLED_MS`).
   */
  async notify(settled: SettledRequest): Promise<void> {
    if (settled.notify === undefined) return;
    const v = await this.o.store.getVerification(settled.notify);
    if (!v) return;
    const email = this.unseal(v.sealedAddress);
    if (email !== null) {
      const failed = settled.status === 'failed';
      const download =
        !failed && v.kind === 'export' && this.o.downloads
          ? `${this.o.publicUrl.replace(/\/$/, '')}${REQUESTS_PATH}/download/${this.o.downloads.issue(settled.id, VERIFIED_META.actor)}`
          : undefined;
      const kind = failed
        ? v.kind === 'erase'
          ? 'failedErase'
          : 'failedExport'
        : v.kind === 'erase'
          ? 'completedErase'
          : 'completedExport';
      const mail = renderMail(this.o.mailTexts, kind, v.locale, { brand: this.o.brand.name, reference: settled.id, download });
      await this.o.mailer.send({ to: email, subject: mail.subject, text: mail.text, language: mail.locale });
      this.o.logger.info({ dsrId: settled.id, verificationId: v.id, status: settled.status }, 'request notice sent');
      if (failed) return;
    }
    await this.o.store.deleteVerification(v.id);
  }

  private minutes(): number {
    return Math.max(1, Math.round(this.o.ttlMs / 60_000));
  }

  private seal(text: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
  }

  private unseal(sealed: string): string | null {
    const [iv, tag, body] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    if (!iv || !tag || !body) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
