/** Outgoing mail: the SMTP mailer (nodemailer) and the embedded catcher of development mode. */
import type { MailConfig } from '../config/schema.js';
import { startMailCatcher } from './catcher.js';
import type { MailCatcher } from './catcher.js';
import { smtpMailer, smtpTargetOf } from './mailer.js';
import type { Mailer } from './mailer.js';

export { startMailCatcher } from './catcher.js';
export type { CaughtMail, MailCatcher } from './catcher.js';
export { smtpMailer, smtpTargetOf } from './mailer.js';
export type { MailMessage, Mailer, SmtpTarget } from './mailer.js';
export { MAIL_KINDS, renderMail } from './texts.js';
export type { MailKind, MailTextSource, MailTexts, RenderedMail } from './texts.js';

/**
 * The mailer `hub.mail` asks for: SMTP, or (development) the embedded catcher started on
 * loopback with nodemailer sending to it over SMTP, so the same transport code runs.
 */
export async function openMailer(config: MailConfig): Promise<{ mailer: Mailer; catcher: MailCatcher | null }> {
  if (config.transport === 'catcher') {
    const catcher = await startMailCatcher({ host: config.catcher.host, port: config.catcher.port });
    const mailer = smtpMailer({ from: config.from, target: { host: catcher.host, port: catcher.port, secure: false } });
    return { mailer, catcher };
  }
  if (!config.smtp) throw new Error('hub.mail.transport smtp needs hub.mail.smtp');
  return { mailer: smtpMailer({ from: config.from, target: smtpTargetOf(config.smtp) }), catcher: null };
}
