/** Shared pieces of the Segment emulator tests: an emulator per test (closed after it), a movable clock, callers of the three APIs. */
import { afterEach } from 'vitest';
import {
  startSegmentEmulator,
  type EmulatorRuntime,
  type RunningSegmentEmulator,
  type SegmentEmulatorOptionsInput,
} from '../../../connectors/segment/emulator/index.js';

export const SECRET = 'test-segment-shared-secret';
export const WRITE_KEY = 'test-write-key';
export const PROFILE_TOKEN = 'test-profile-token';
export const PUBLIC_TOKEN = 'test-public-api-token';

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const e of running.splice(0).reverse()) await e.close();
});

/** Closes this with the test's emulators. */
export function closeAfterTest(thing: { close(): Promise<void> }): void {
  running.push(thing);
}

/** A clock the test moves (`advance`); it starts at a fixed time. */
export function clock(start = Date.parse('2026-12-04T12:00:00.000Z')): { now: () => number; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

export async function emulator(
  options: Partial<SegmentEmulatorOptionsInput> = {},
  runtime: EmulatorRuntime = {},
): Promise<RunningSegmentEmulator> {
  const e = await startSegmentEmulator({ secret: SECRET, ...options }, runtime);
  running.push(e);
  return e;
}

export const basic = (user: string): string => `Basic ${Buffer.from(`${user}:`).toString('base64')}`;

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

async function call<T>(url: string, init: RequestInit): Promise<Answer<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
}

/** A Tracking API call: a JSON value, or a raw string sent as is (`writeKey: null`: no Authorization header). */
export function track<T = Record<string, unknown>>(
  e: RunningSegmentEmulator,
  path: string,
  body: unknown,
  writeKey: string | null = WRITE_KEY,
): Promise<Answer<T>> {
  return call<T>(`${e.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(writeKey === null ? {} : { authorization: basic(writeKey) }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A Profile API GET under the users collection of `space`. */
export function profiles<T = Record<string, unknown>>(
  e: RunningSegmentEmulator,
  path: string,
  options: { token?: string | undefined; space?: string } = {},
): Promise<Answer<T>> {
  const token = 'token' in options ? options.token : PROFILE_TOKEN;
  return call<T>(`${e.url}/v1/spaces/${options.space ?? 'spa_dev'}/collections/users/profiles/${path}`, {
    headers: token === undefined ? {} : { authorization: basic(token) },
  });
}

/** A Public API call with the bearer token and Segment's media type. */
export function publicApi<T = Record<string, unknown>>(
  e: RunningSegmentEmulator,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  token: string | null = PUBLIC_TOKEN,
): Promise<Answer<T>> {
  return call<T>(`${e.url}${path}`, {
    method,
    headers: {
      accept: 'application/vnd.segment.v1+json',
      ...(body === undefined ? {} : { 'content-type': 'application/vnd.segment.v1+json' }),
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Polls `probe` until it returns a value other than undefined or false, or fails after `ms`. */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
