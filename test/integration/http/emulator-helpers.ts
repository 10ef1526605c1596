/** Shared pieces of the HTTP emulator's tests: an emulator per test (closed after it), callers of both systems' APIs, Standard Webhooks checks. */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { afterEach } from 'vitest';
import {
  CRM_PREFIX,
  DEV_CRM_TOKEN,
  DEV_NEWSLETTER_API_KEY,
  NEWSLETTER_PREFIX,
  startHttpEmulator,
  type HttpEmulatorOptionsInput,
  type RunningHttpEmulator,
} from '../../../connectors/http/emulator/index.js';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver.js';

/** A fresh Standard Webhooks secret: `whsec_` and 32 random bytes. */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of closing.splice(0).reverse()) await c.close();
});

export async function emulator(options: HttpEmulatorOptionsInput = {}): Promise<RunningHttpEmulator> {
  const e = await startHttpEmulator(options);
  closing.push(e);
  return e;
}

/** A loopback receiver closed after the test. */
export async function receiver(path = '/webhooks/http'): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(path);
  closing.push(r);
  return r;
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function call<T = Record<string, unknown>>(url: string, init: RequestInit = {}): Promise<Answer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** A call to one system: JSON body when given, its credential header unless `null`. */
function apiCall<T>(url: string, method: string, body: unknown, credential: Record<string, string> | null): Promise<Answer<T>> {
  const headers = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(credential ?? {}) };
  return call<T>(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

/** A CRM call with the bearer token (`token: null`: none). */
export function crm<T = Record<string, unknown>>(
  e: RunningHttpEmulator,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = DEV_CRM_TOKEN,
): Promise<Answer<T>> {
  return apiCall<T>(`${e.url}${CRM_PREFIX}${path}`, method, body, token === null ? null : { authorization: `Bearer ${token}` });
}

/** A newsletter call with the API key (`key: null`: none). */
export function newsletter<T = Record<string, unknown>>(
  e: RunningHttpEmulator,
  method: string,
  path: string,
  body?: unknown,
  key: string | null = DEV_NEWSLETTER_API_KEY,
): Promise<Answer<T>> {
  return apiCall<T>(`${e.url}${NEWSLETTER_PREFIX}${path}`, method, body, key === null ? null : { 'x-api-key': key });
}

/** The request's headers as `standardwebhooks` takes them. */
export function plain(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Verifies a received request with the official library; the parsed body, or throws. */
export function verified(secret: string, request: { headers: IncomingHttpHeaders; body: Buffer }): unknown {
  return new Webhook(secret).verify(request.body.toString('utf8'), plain(request.headers));
}

/** A signed delivery to an inbox, as the hub sends one. */
export function signedDelivery(secret: string, id: string, payload: unknown, at = new Date()): RequestInit {
  const body = JSON.stringify(payload);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(id, at, body),
    },
    body,
  };
}
