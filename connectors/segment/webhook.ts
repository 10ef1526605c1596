/**
 * The segment connector's webhooks: the signature check, over the exact body bytes and before
 * anything is parsed. A webhook is a hint unless its payload is signed by a secret only the
 * vendor and the hub hold.
 *
 * TODO from the vendor's documentation: the signature header, algorithm, what is signed and the
 * timestamp window; compare in constant time (`timingSafeEqual`). The emulator signs the same
 * way (`emulator/server.ts`).
 */
import type { RawWebhook, VerifyResult } from '../../src/connector/define.js';

/** Checks a webhook's signature. Refuses every webhook until written. */
export function verifySegmentWebhook(_secret: string, _raw: RawWebhook): VerifyResult {
  return { ok: false, reason: 'the segment webhook signature check is not implemented yet' };
}
