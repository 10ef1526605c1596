/**
 * HubSpot webhooks: signature v3 verification over the raw body and the exact URI, and
 * parsing of the event array into the engine's `WebhookEvent`s.
 * https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
 * https://developers.hubspot.com/docs/api/webhooks
 */
import { z } from 'zod';
import type { RawWebhook, VerifyResult, WebhookEvent } from '../../src/connector/define.js';
import { MalformedPayloadError } from '../../src/connector/errors.js';
import { secretsEqual } from '../../src/connector/kit/index.js';
import { SIGNATURE_MAX_AGE_MS, SIGNATURE_V3_HEADER, signV3, TIMESTAMP_HEADER } from './signature.js';
import { subscriptionField } from './mapping.js';

export { canonicalUri, signV3, SIGNATURE_MAX_AGE_MS } from './signature.js';

/** One event of a HubSpot webhook request. Unknown extra keys are kept. */
export const HubSpotWebhookEvent = z
  .object({
    eventId: z.number().int(),
    subscriptionId: z.number().int(),
    portalId: z.number().int(),
    appId: z.number().int(),
    occurredAt: z.number().int(),
    subscriptionType: z.string().min(1),
    attemptNumber: z.number().int(),
    objectId: z.number().int(),
    changeSource: z.string().optional(),
    sourceId: z.string().optional(),
    propertyName: z.string().optional(),
    propertyValue: z.string().optional(),
    changeFlag: z.string().optional(),
    primaryObjectId: z.number().int().optional(),
    mergedObjectIds: z.array(z.number().int()).optional(),
    newObjectId: z.number().int().optional(),
    numberOfPropertiesMoved: z.number().int().optional(),
  })
  .loose();
export type HubSpotWebhookEvent = z.infer<typeof HubSpotWebhookEvent>;

/** HubSpot sends at most 100 events per request; some slack for safety. */
const HubSpotWebhookBody = z.array(HubSpotWebhookEvent).max(1_000);

function header(headers: RawWebhook['headers'], name: string): string | undefined {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

export interface VerifyOptions {
  clientSecret: string;
  /**
   * The target URL configured in the HubSpot app. Default: `raw.url`, which the hub derives from
   * its configured `publicUrl` and the request's path (never from the request's Host header).
   */
  webhookUrl?: string;
  now?: number;
}

/**
 * Verifies `X-HubSpot-Signature-v3`: base64 HMAC-SHA256 of method + URI + raw body + timestamp
 * with the app's client secret, compared in constant time; requests whose timestamp is more
 * than 5 minutes away from now are refused (replays of old captures).
 */
export function verifyHubSpotSignature(raw: RawWebhook, options: VerifyOptions): VerifyResult {
  const signature = header(raw.headers, SIGNATURE_V3_HEADER);
  const timestamp = header(raw.headers, TIMESTAMP_HEADER);
  if (!signature || !timestamp) return { ok: false, reason: 'missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'malformed timestamp' };
  const now = options.now ?? Date.parse(raw.receivedAt);
  if (Math.abs(now - Number(timestamp)) > SIGNATURE_MAX_AGE_MS) return { ok: false, reason: 'timestamp outside the 5-minute window' };
  const expected = signV3({
    clientSecret: options.clientSecret,
    method: raw.method,
    uri: options.webhookUrl ?? raw.url,
    body: raw.body,
    timestamp,
  });
  return secretsEqual(signature, expected) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

/** Parses the JSON event array; throws `MalformedPayloadError` on anything else. */
export function parseHubSpotEvents(body: Buffer): HubSpotWebhookEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new MalformedPayloadError('HubSpot webhook body is not JSON');
  }
  const parsed = HubSpotWebhookBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedPayloadError(`HubSpot webhook body is not an event array (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`);
  }
  return parsed.data;
}

/** An engine event together with the HubSpot event ids it stands for. */
export interface MappedEvent {
  event: WebhookEvent;
  hubspotEventIds: number[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

const OPT_OUT_MIRROR = /^hs_email_optout_(\d+)$/;

/**
 * The field and value a propertyChange event carries, when it may be taken as it is: one of
 * `valueProperties`, or `hs_email_optout_<id>` turning "true" for a subscription type the hub
 * syncs (an unsubscription, as status `UNSUBSCRIBED`). "false" there is no act: HubSpot holds
 * it for anyone who never unsubscribed, so only the read-back tells a subscription.
 * https://developers.hubspot.com/docs/api/webhooks#webhook-subscriptions
 */
function valueOf(e: HubSpotWebhookEvent, options: ValueOptions): [string, string] | undefined {
  const name = e.propertyName;
  if (e.subscriptionType !== 'contact.propertyChange' || name === undefined || e.propertyValue === undefined || e.propertyValue === '')
    return undefined;
  if (options.valueProperties?.has(name)) return [name, e.propertyValue];
  const id = OPT_OUT_MIRROR.exec(name)?.[1];
  if (id !== undefined && e.propertyValue === 'true' && options.subscriptionIds?.has(Number(id)))
    return [subscriptionField(Number(id)), 'UNSUBSCRIBED'];
  return undefined;
}

/**
 * The value a propertyChange event carries, as a one-field record stamped with the event's time,
 * made by someone else (`echo: false`; the caller drops our own app's changes): equal to a value
 * our write in flight sends, it is still their choice, not our write coming back.
 */
function valueRecord(e: HubSpotWebhookEvent, options: ValueOptions): MappedEvent | undefined {
  const value = valueOf(e, options);
  if (value === undefined) return undefined;
  const [name, v] = value;
  const at = iso(e.occurredAt);
  return {
    event: {
      kind: 'records',
      eventId: `value:${e.eventId}`,
      records: [{ externalId: String(e.objectId), at, fields: { [name]: v }, fieldsAt: { [name]: at }, knownOnly: true, echo: false }],
    },
    hubspotEventIds: [e.eventId],
  };
}

/**
 * HubSpot's own contact properties of type string or enumeration among the default mapped ones:
 * a webhook's `propertyValue` is exactly what a read returns. Other properties (an account's own,
 * possibly dates or numbers, whose webhook values HubSpot formats otherwise) are carried too,
 * and still read.
 */
const TEXT_PROPERTIES: ReadonlySet<string> = new Set(['firstname', 'lastname', 'hs_language', 'country']);

/** A change that needs no read of a contact the hub knows: its value came with it, as a read would give it. */
function carriedWhole(e: HubSpotWebhookEvent, options: ValueOptions): boolean {
  const value = valueOf(e, options);
  return value !== undefined && (TEXT_PROPERTIES.has(value[0]) || OPT_OUT_MIRROR.test(e.propertyName ?? ''));
}

interface ValueOptions {
  /** Plain mapped properties whose webhook values are taken as they are. */
  valueProperties?: ReadonlySet<string>;
  /** The subscription types the hub syncs: an unsubscription from one of them is taken as it is. */
  subscriptionIds?: ReadonlySet<number>;
}

/**
 * Turns HubSpot events into engine events:
 * - creation, propertyChange and restore become one `changed` per contact (the engine reads
 *   the contact with `batch/read`); it is an `echo` when every change came from our own app
 *   (`changeSource: INTEGRATION` with our app id), and `readIfUnknown` when every other change
 *   is a propertyChange carrying its value as a read would give it (a default text property or
 *   an unsubscription, `carriedWhole`): the engine reads only a contact it does not link yet
 *   (the request is signed with the app's secret, so the values are HubSpot's);
 * - a propertyChange of one of `valueProperties` (plain mapped properties, not identities nor
 *   opt-out mirrors), or an unsubscription (`hs_email_optout_<id>` turning "true", see
 *   `valueOf`), made by anyone else also becomes a `records` event with that value,
 *   stamped with the event's `occurredAt`: the read shows the contact as it is when read, and a
 *   push of ours landing in between would hide the person's newer value for good;
 * - deletion becomes `deleted`, privacyDeletion `erase` (an erasure request) unless our own app
 *   made it (the hub's erasure coming back), merge `merge`.
 * Other subscription types (associations, other objects) are ignored.
 */
export function toWebhookEvents(events: readonly HubSpotWebhookEvent[], options: { appId?: number } & ValueOptions): MappedEvent[] {
  const out: MappedEvent[] = [];
  const changed = new Map<number, HubSpotWebhookEvent[]>();
  const ownChange = (e: HubSpotWebhookEvent): boolean =>
    options.appId !== undefined && e.changeSource === 'INTEGRATION' && e.sourceId === String(options.appId);
  for (const e of events) {
    switch (e.subscriptionType) {
      case 'contact.propertyChange':
      case 'contact.creation':
      case 'contact.restore': {
        const value = valueRecord(e, options);
        if (value && !ownChange(e)) out.push(value);
        // The contact is read as well: a contact the hub does not know yet is only found by reading it.
        const list = changed.get(e.objectId) ?? [];
        list.push(e);
        changed.set(e.objectId, list);
        break;
      }
      case 'contact.deletion':
        out.push({
          event: { kind: 'deleted', eventId: String(e.eventId), externalIds: [String(e.objectId)], at: iso(e.occurredAt) },
          hubspotEventIds: [e.eventId],
        });
        break;
      case 'contact.privacyDeletion':
        // Our own GDPR delete coming back (an erasure the hub is carrying out): nothing to request.
        if (ownChange(e)) break;
        out.push({
          event: { kind: 'erase', eventId: String(e.eventId), externalIds: [String(e.objectId)], at: iso(e.occurredAt) },
          hubspotEventIds: [e.eventId],
        });
        break;
      case 'contact.merge': {
        const winner = e.newObjectId ?? e.primaryObjectId ?? e.objectId;
        const losers = [
          ...(e.mergedObjectIds ?? []),
          ...(e.primaryObjectId !== undefined && e.primaryObjectId !== winner ? [e.primaryObjectId] : []),
        ];
        out.push({
          event: {
            kind: 'merge',
            eventId: String(e.eventId),
            winnerId: String(winner),
            loserIds: losers.filter((id) => id !== winner).map(String),
            at: iso(e.occurredAt),
          },
          hubspotEventIds: [e.eventId],
        });
        break;
      }
      default:
        break;
    }
  }
  for (const [objectId, list] of changed) {
    const ids = list.map((e) => e.eventId).sort((a, b) => a - b);
    const echo = list.every(ownChange);
    // Every change either ours or carried whole: a contact the hub knows needs no read.
    const carried = list.every((e) => ownChange(e) || carriedWhole(e, options));
    out.push({
      event: {
        kind: 'changed',
        // Stable for a redelivery of the same events, whatever their order.
        eventId: ids.length === 1 ? String(ids[0]) : `${ids[0]}+${ids.length - 1}:${objectId}`,
        externalIds: [String(objectId)],
        at: iso(Math.max(...list.map((e) => e.occurredAt))),
        ...(echo ? { echo: true } : carried ? { readIfUnknown: true } : {}),
      },
      hubspotEventIds: ids,
    });
  }
  return out;
}
