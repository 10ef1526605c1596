/**
 * Outgoing mail through a real SMTP transport (nodemailer). The hub sends two kinds: the
 * one-time link of the public request page and the notice that a request completed. Callers
 * never log the recipient.
 */
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { MailConfig } from '../config/schema.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** The language of the message (`Content-Language`). */
  language?: string;
}

/** Sends mail. `send` resolves once the SMTP server accepted the message. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/** Where nodemailer connects: the SMTP settings of `hub.mail`, or the catcher on loopback. */
export type SmtpTarget = { url: string } | { host: string; port: number; secure: boolean; user?: string; password?: string };

/** The SMTP target of `hub.mail.smtp` (its refinement guarantees url or host). */
export function smtpTargetOf(smtp: NonNullable<MailConfig['smtp']>): SmtpTarget {
  if (smtp.url !== undefined) return { url: smtp.url };
  return {
    host: smtp.host ?? 'localhost',
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.user !== undefined ? { user: smtp.user } : {}),
    ...(smtp.password !== undefined ? { password: smtp.password } : {}),
  };
}

/** A mailer on nodemailer's SMTP transport, pooled (a few connections reused). */
export function smtpMailer(options: { from: string; target: SmtpTarget }): Mailer {
  const { target } = options;
  const transportOptions: SMTPTransport.Options =
    'url' in target
      ? { url: target.url }
      : {
          host: target.host,
          port: target.port,
          secure: target.secure,
          ...(target.user !== undefined ? { auth: { user: target.user, pass: target.password ?? '' } } : {}),
        };
  const transport = nodemailer.createTransport({ ...transportOptions, pool: true, maxConnections: 2 });
  return {
    async send(message) {
      await transport.sendMail({
        from: options.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
        ...(message.language !== undefined ? { headers: { 'Content-Language': message.language } } : {}),
      });
    },
    close() {
      transport.close();
    },
  };
}
