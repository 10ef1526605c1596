/**
 * HubSpot request signature v3, shared by the connector (verify) and the emulator (sign).
 * https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
 */
import { createHmac } from 'node:crypto';

/** Requests older than this are rejected (HubSpot's documented window). */
export const SIGNATURE_MAX_AGE_MS = 5 * 60_000;

/** The v1/v2 signature header. */
export const SIGNATURE_HEADER = 'x-hubspot-signature';
export const SIGNATURE_V3_HEADER = 'x-hubspot-signature-v3';
export const TIMESTAMP_HEADER = 'x-hubspot-request-timestamp';

/** The percent-encodings HubSpot decodes in the URI before signing (its documented table). */
const DECODED: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
};

/** The URI exactly as HubSpot signs it: the full URL (query string included), with the listed characters decoded. */
export function canonicalUri(uri: string): string {
  return uri.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (m) => DECODED[m.toUpperCase()] ?? m);
}

export interface SignatureInput {
  clientSecret: string;
  method: string;
  uri: string;
  body: Buffer | string;
  /** Milliseconds since the epoch, as sent in `X-HubSpot-Request-Timestamp`. */
  timestamp: string | number;
}

/** base64(HMAC-SHA256(clientSecret, method + uri + body + timestamp)). */
export function signV3(input: SignatureInput): string {
  const hmac = createHmac('sha256', input.clientSecret);
  hmac.update(input.method.toUpperCase() + canonicalUri(input.uri), 'utf8');
  hmac.update(typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body);
  hmac.update(String(input.timestamp), 'utf8');
  return hmac.digest('base64');
}
