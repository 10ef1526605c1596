/** Shared pieces of the Mailchimp emulator tests: an emulator per test, a Basic-auth API caller, a tar reader. */
import { gunzipSync } from 'node:zlib';
import { afterEach } from 'vitest';
import {
  startMailchimpEmulator,
  type MailchimpEmulatorOptionsInput,
  type RunningMailchimpEmulator,
  type EmulatorRuntime,
} from '../../../connectors/mailchimp/emulator/index.js';

export const KEY = 'test-mailchimp-key-us1';

const running: RunningMailchimpEmulator[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.close();
});

export async function emulator(
  options: MailchimpEmulatorOptionsInput = {},
  runtime: EmulatorRuntime = {},
): Promise<RunningMailchimpEmulator> {
  const e = await startMailchimpEmulator({ validateWebhookUrl: false, ...options }, runtime);
  running.push(e);
  return e;
}

export interface ApiAnswer<T> {
  status: number;
  contentType: string;
  headers: Headers;
  body: T;
}

/** A member as the tests read it. */
export interface Member {
  id: string;
  email_address: string;
  contact_id: string;
  unique_email_id: string;
  status: string;
  merge_fields: Record<string, unknown>;
  interests: Record<string, boolean>;
  marketing_permissions: { marketing_permission_id: string; text: string; enabled: boolean }[];
  timestamp_opt: string;
  ip_opt: string;
  timestamp_signup: string;
  ip_signup: string;
  last_changed: string;
  tags: { id: number; name: string }[];
  list_id: string;
  language: string;
}

/** Batch subscribe's answer. */
export interface BatchSubscribeAnswer {
  new_members: Member[];
  updated_members: Member[];
  errors: { email_address: string; error: string; error_code: string }[];
  total_created: number;
  total_updated: number;
  error_count: number;
}

/** A batch operation's status. */
export interface Batch {
  id: string;
  status: string;
  total_operations: number;
  finished_operations: number;
  errored_operations: number;
  response_body_url: string;
}

/** A problem+json error body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  errors?: { field: string; message: string }[];
}

export const basic = (key: string): string => `Basic ${Buffer.from(`anystring:${key}`).toString('base64')}`;

/** One API call with Basic auth (the key as the password). */
export async function api<T = Member & Omit<Problem, 'status'>>(
  e: RunningMailchimpEmulator,
  method: string,
  path: string,
  body?: unknown,
  key = KEY,
): Promise<ApiAnswer<T>> {
  const res = await fetch(`${e.apiUrl}${path}`, {
    method,
    headers: { authorization: basic(key), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    headers: res.headers,
    body: (text ? JSON.parse(text) : undefined) as T,
  };
}

/** The files of a .tar.gz, read as ustar (magic and header checksum checked). */
export function untarGz(archive: Buffer): { name: string; content: string }[] {
  const tar = gunzipSync(archive);
  const files: { name: string; content: string }[] = [];
  for (let offset = 0; offset + 512 <= tar.length;) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const text = (start: number, length: number): string =>
      header
        .subarray(start, start + length)
        .toString('utf8')
        .replace(/\0.*$/s, '');
    if (text(257, 6) !== 'ustar') throw new Error('not a ustar header');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
    if (sum !== parseInt(text(148, 8).trim(), 8)) throw new Error('bad tar header checksum');
    const size = parseInt(text(124, 12).trim(), 8);
    files.push({ name: text(0, 100), content: tar.subarray(offset + 512, offset + 512 + size).toString('utf8') });
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}
