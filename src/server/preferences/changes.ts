/**
 * What a preference-center form submission changes. Pure: the profile, the catalog and the
 * submitted choices in, the consents and subscriptions that differ out. Choices the person
 * cannot change here (blocked by a restriction or an objection) are left alone, and an
 * unticked box for something never chosen is not a change. Each consent's evidence names the
 * notice the person saw: its locale (the page's, or the default locale's where the notice has no
 * translation) and that locale's version.
 */
import { noticeIn } from '../../config/localized.js';
import type { Catalog } from '../../config/schema.js';
import { explainConsent } from '../../profile/effective.js';
import type { ConsentEvidence, ConsentInput, MergePolicy, Profile } from '../../profile/schema.js';

/** The submitted form: `purpose.channel` keys ticked, topic ids ticked. */
export interface PreferenceForm {
  consents: ReadonlySet<string>;
  topics: ReadonlySet<string>;
}

export interface PreferenceChanges {
  consents: Record<string, Record<string, ConsentInput>>;
  subscriptions: Record<string, boolean>;
  count: { consents: number; topics: number };
}

/** Whether the person can change this purpose on this channel here (not blocked by a right in force). */
export function isEditable(profile: Profile, purpose: string, channel: string, policy: MergePolicy): boolean {
  const { reason } = explainConsent(profile, purpose, channel, policy);
  return reason !== 'restricted' && reason !== 'objection';
}

/** Reads repeated form fields (`consent=a.b&consent=c.d`) as a set. */
export function formValues(value: unknown): Set<string> {
  if (typeof value === 'string') return new Set([value]);
  if (Array.isArray(value)) return new Set(value.filter((v): v is string => typeof v === 'string'));
  return new Set();
}

export function preferenceChanges(
  profile: Profile,
  catalog: Catalog,
  policy: MergePolicy,
  form: PreferenceForm,
  evidence: Omit<ConsentEvidence, 'noticeVersion' | 'noticeLocale' | 'method'>,
  now: Date,
  /** The language the page showed the catalog in (one of `catalog.locales`). Default: the catalog's default locale. */
  locale: string = catalog.defaultLocale,
): PreferenceChanges {
  const out: PreferenceChanges = { consents: {}, subscriptions: {}, count: { consents: 0, topics: 0 } };
  for (const [purposeId, purpose] of Object.entries(catalog.purposes)) {
    const notice = noticeIn(purpose.notice, locale, catalog.defaultLocale);
    for (const channel of purpose.channels) {
      if (!isEditable(profile, purposeId, channel, policy)) continue;
      const slot = profile.consents[purposeId]?.[channel];
      const expired = slot?.expiresAt !== undefined && Date.parse(slot.expiresAt) <= now.getTime();
      const current = slot === undefined || expired ? undefined : slot.value;
      const wanted = form.consents.has(`${purposeId}.${channel}`) ? 'granted' : 'denied';
      if (wanted === current || (current === undefined && wanted === 'denied')) continue;
      out.consents[purposeId] ??= {};
      out.consents[purposeId][channel] = {
        status: wanted,
        evidence: { method: 'preference_center', noticeVersion: notice.version, noticeLocale: notice.locale, ...evidence },
      };
      out.count.consents += 1;
    }
  }
  for (const topicId of Object.keys(catalog.topics)) {
    const current = profile.subscriptions[topicId]?.value;
    const wanted = form.topics.has(topicId);
    if (wanted === current || (current === undefined && !wanted)) continue;
    out.subscriptions[topicId] = wanted;
    out.count.topics += 1;
  }
  return out;
}
