/**
 * The Standard Webhooks the hub sends to a generic system (`webhooksOut`), built from what a push
 * writes: `profile.updated` for every changed record, `consent.changed` and `subscription.changed`
 * for each consent or topic among its changed fields (with the hub's state, time and source), and
 * `dsr.erasure_requested` for an erasure. A message id is a hash of what it says, so the same
 * change pushed again (a retry) is the same message and the receiver dedupes it.
 */
import { createHash } from 'node:crypto';
import type { EraseRef, OutboundWebhookMessage, PushRecord } from '../../src/connector/define.js';
import type { Json } from '../../src/profile/schema.js';
import type { OUTBOUND_EVENT_TYPES } from './config.js';

type EventType = (typeof OUTBOUND_EVENT_TYPES)[number];

/** A webhook-id: `msg_` and a hash of the message's meaning (no `.`, as the spec requires). */
function messageId(parts: readonly unknown[]): string {
  return `msg_${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32)}`;
}

/** Which canonical target each external field carries: `consent:marketing.email`, `topic:newsletter`, `field:firstName`. */
export type FieldTargets = Readonly<Record<string, string>>;

function consentData(record: PushRecord, key: string, value: Json): Record<string, Json> {
  const [purpose = '', channel = ''] = key.split('.');
  const state = record.profile?.consents[purpose]?.[channel];
  return {
    consent: key,
    state: state?.value ?? (value === true ? 'granted' : value === false ? 'denied' : null),
    ...(state === undefined
      ? {}
      : { at: state.at, source: state.source, ...(state.legalBasis === undefined ? {} : { legalBasis: state.legalBasis }) }),
  };
}

function subscriptionData(record: PushRecord, topic: string, value: Json): Record<string, Json> {
  const state = record.profile?.subscriptions[topic];
  return { topic, subscribed: state?.value ?? value, ...(state === undefined ? {} : { at: state.at, source: state.source }) };
}

/** The messages one written record gives rise to, of the types the endpoint takes. */
export function pushMessages(
  instanceId: string,
  record: PushRecord,
  externalId: string | undefined,
  targets: FieldTargets,
  wanted: readonly EventType[],
  at: string,
): OutboundWebhookMessage[] {
  const subject: Record<string, Json> = {
    profileId: record.profileId,
    ...(externalId === undefined ? {} : { externalId }),
  };
  const messages: OutboundWebhookMessage[] = [];
  const add = (type: EventType, data: Record<string, Json>) => {
    if (!wanted.includes(type)) return;
    const full = { ...subject, ...data };
    // When the values were chosen tells the same change retried from the same values chosen again.
    const chosen = record.valuesAt ?? record.profile?.version ?? at;
    messages.push({ id: messageId([instanceId, type, record.profileId, data, chosen]), type, data: full, at });
  };
  add('profile.updated', { changes: record.fields });
  for (const [field, value] of Object.entries(record.fields)) {
    const target = targets[field];
    if (target?.startsWith('consent:')) add('consent.changed', consentData(record, target.slice('consent:'.length), value));
    else if (target?.startsWith('topic:')) add('subscription.changed', subscriptionData(record, target.slice('topic:'.length), value));
  }
  return messages;
}

/**
 * The message announcing an erasure of one ref, requested at `at` (ISO). Its id hashes the ref and
 * the UTC date of the request: a retry the same day is the same message (the receiver dedupes it),
 * while a later, separate erasure of the same person (who came back and asked again) is a new one,
 * which a receiver keeping ids would otherwise drop as a duplicate of the first.
 */
export function erasureMessage(instanceId: string, ref: EraseRef, at: string): OutboundWebhookMessage {
  const data: Record<string, Json> = {
    ...(ref.externalId === undefined ? {} : { externalId: ref.externalId }),
    ...(ref.email === undefined ? {} : { email: ref.email }),
  };
  const day = new Date(at).toISOString().slice(0, 10);
  return { id: messageId([instanceId, 'dsr.erasure_requested', data, day]), type: 'dsr.erasure_requested', data, at };
}
