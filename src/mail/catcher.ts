/**
 * The embedded SMTP catcher of development mode and tests: a real SMTP server (smtp-server) on
 * loopback that accepts every message, parses it (mailparser: MIME, quoted-printable, base64,
 * any charset) and keeps it in memory, newest last, up to `limit`. The demo shows them at
 * /dev/mail. Production refuses it (`production_mail_catcher`).
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleParser } from 'mailparser';
import type { AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  /** Order of arrival, from 1. */
  seq: number;
  receivedAt: string;
  /** The envelope recipients (RCPT TO). */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string | null;
  /** `Content-Language`, when the sender gave one. */
  language: string | null;
}

export interface MailCatcher {
  /** The port it listens on (on `host`). */
  readonly port: number;
  readonly host: string;
  /** The mails caught so far, oldest first. */
  messages(): CaughtMail[];
  /** Waits until a mail for which `match` holds has arrived (polling; throws after `timeoutMs`). */
  waitFor(match: (mail: CaughtMail) => boolean, timeoutMs?: number): Promise<CaughtMail>;
  clear(): void;
  close(): Promise<void>;
}

function addresses(value: AddressObject | AddressObject[] | undefined): string {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list.map((a) => a.text).join(', ');
}

/** Starts a catcher on `host:port` (port 0: a free one). */
export async function startMailCatcher(options: { host?: string; port?: number; limit?: number } = {}): Promise<MailCatcher> {
  const host = options.host ?? '127.0.0.1';
  const limit = options.limit ?? 200;
  const caught: CaughtMail[] = [];
  let seq = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          seq += 1;
          const language = mail.headers.get('content-language');
          caught.push({
            seq,
            receivedAt: new Date().toISOString(),
            to: session.envelope.rcptTo.map((r) => r.address),
            from: addresses(mail.from),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : null,
            language: typeof language === 'string' ? language : null,
          });
          if (caught.length > limit) caught.splice(0, caught.length - limit);
          callback();
        })
        .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
    },
  });
  const listening = await new Promise<AddressInfo>((resolve, reject) => {
    server.on('error', reject);
    const net = server.listen(options.port ?? 0, host, () => {
      const address = net.address();
      if (address === null || typeof address === 'string') reject(new Error('the mail catcher has no TCP address'));
      else resolve(address);
    });
  });
  return {
    port: listening.port,
    host,
    messages: () => [...caught],
    async waitFor(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = caught.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error('no such mail arrived at the catcher');
        await sleep(20);
      }
    },
    clear() {
      caught.length = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
