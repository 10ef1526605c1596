/**
 * The self-service preference center: `GET /preferences/:token` shows the person's choices,
 * `POST /preferences/:token` records changed ones as a `preference_center` patch with evidence
 * (time, IP, user agent, the notice's locale and version) and ingests it like any other source's
 * change, then redirects back (post/redirect/get). The page speaks the visitor's language
 * (`?lang=`, else `Accept-Language`, among `catalog.locales`), catalog texts included, and shows
 * per purpose why data is collected, its legal basis, the systems that receive it and how long it
 * is kept. A tampered, expired or revoked link gets a friendly 403
 * page that says nothing about whose link it was. Forms carry a CSRF token bound to a cookie
 * and to the link.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import type { Catalog } from '../../config/schema.js';
import { explainConsent } from '../../profile/effective.js';
import type { EffectiveConsentReason } from '../../profile/effective.js';
import { asLookupKeys } from '../../profile/identities.js';
import type { MergePolicy, Profile, ProfilePatch } from '../../profile/schema.js';
import type { ApplyResult, Store } from '../../store/types.js';
import type { HttpMetrics } from '../metrics.js';
import { formValues, preferenceChanges } from './changes.js';
import { pageLanguage, requestedLocale } from './i18n.js';
import type { Locale } from './i18n.js';
import { deriveKey } from './links.js';
import type { PreferenceLinks, VerifiedLink } from './links.js';
import { renderErrorPage, renderPreferencesPage } from './view.js';
import type { Brand } from './view.js';
import type { Recipient } from './transparency.js';
import type { Html } from '../html.js';
import { sendHtml } from '../send-html.js';

export const CSRF_COOKIE = 'concord_pc';
const PATH = '/preferences';

/** The CSRF token of a form: bound to the browser's cookie and to the link it was opened with. */
export function csrfTokenFor(signingSecret: string, cookie: string, link: VerifiedLink): string {
  return createHmac('sha256', deriveKey(signingSecret, 'preference-csrf')).update(`${cookie}.${link.nonce}`).digest('base64url');
}

/** What the page needs to show the person's rights as real actions (privacy/ is configured). */
export interface RightsSection {
  render(input: { locale: Locale; profile: Profile; csrfToken: string; token: string; lang: string | undefined }): Promise<Html>;
}

export interface PreferenceRouteOptions {
  links: PreferenceLinks;
  store: Store;
  catalog: Catalog;
  /** Purpose id -> the systems that receive its data (`recipientsByPurpose`). Default: none. */
  recipients?: Readonly<Record<string, readonly Recipient[]>>;
  policy: MergePolicy;
  brand: Brand;
  signingSecret: string;
  secureCookies: boolean;
  rateLimit: number;
  ingestPatch(patch: ProfilePatch, options?: { actor?: string }): Promise<ApplyResult>;
  metrics: HttpMetrics;
  now(): number;
  /** The rights section with working actions; without it they are shown as unavailable. */
  rights?: RightsSection;
}

type TokenRequest = FastifyRequest<{ Params: { token: string }; Querystring: { lang?: string; status?: string } }>;

function pageUrl(token: string, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, v);
  const query = search.toString();
  return `${PATH}/${encodeURIComponent(token)}${query ? `?${query}` : ''}`;
}

export async function registerPreferences(app: FastifyInstance, options: PreferenceRouteOptions): Promise<void> {
  const csrfToken = (cookie: string, link: VerifiedLink): string => csrfTokenFor(options.signingSecret, cookie, link);
  const rateLimit = { max: options.rateLimit, timeWindow: '1 minute' };

  const forbidden = (request: FastifyRequest, reply: FastifyReply, locale: Locale): FastifyReply =>
    sendHtml(reply, 403, renderErrorPage({ locale, brand: options.brand, kind: 'forbidden' }));

  /** The visitor's language for the catalog and for the interface, and the `lang` the URLs keep. */
  const languageOf = (request: FastifyRequest, lang: unknown): { explicit: string | undefined; catalogLocale: string; locale: Locale } => {
    const page = pageLanguage(options.catalog, { lang, acceptLanguage: request.headers['accept-language'] });
    return { explicit: page.lang, catalogLocale: page.current, locale: page.ui };
  };

  /** The link's profile, or null when the link must not open (the reason is logged, never shown). */
  async function open(request: TokenRequest): Promise<{ link: VerifiedLink; profile: Profile } | null> {
    const check = await options.links.verify(request.params.token);
    if (!check.ok) {
      request.log.info({ reason: check.reason }, 'preference link refused');
      return null;
    }
    const profile = await options.store.getProfile(check.link.profileId);
    if (!profile) {
      request.log.info({ reason: 'no_profile' }, 'preference link refused');
      return null;
    }
    // The profile may have been merged into another one since the link was issued.
    if (profile.id !== check.link.profileId && (await options.links.isRevoked(profile.id, check.link.issuedAt))) {
      request.log.info({ reason: 'revoked' }, 'preference link refused');
      return null;
    }
    return { link: check.link, profile };
  }

  function reasonsOf(profile: Profile): Record<string, Record<string, EffectiveConsentReason>> {
    const now = new Date(options.now());
    const out: Record<string, Record<string, EffectiveConsentReason>> = {};
    for (const [purposeId, purpose] of Object.entries(options.catalog.purposes)) {
      out[purposeId] = {};
      for (const channel of purpose.channels)
        out[purposeId][channel] = explainConsent(profile, purposeId, channel, options.policy, now).reason;
    }
    return out;
  }

  await app.register(async (scope) => {
    scope.get(PATH, { config: { rateLimit } }, async (request, reply) =>
      forbidden(request, reply, languageOf(request, (request.query as { lang?: string }).lang).locale),
    );

    scope.get<{ Params: { token: string }; Querystring: { lang?: string; status?: string } }>(
      `${PATH}/:token`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { explicit, catalogLocale, locale } = languageOf(request, request.query.lang);
        const opened = await open(request);
        if (!opened) return forbidden(request, reply, locale);
        let cookie = request.cookies[CSRF_COOKIE];
        if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
          cookie = randomBytes(32).toString('base64url');
          reply.setCookie(CSRF_COOKIE, cookie, { path: PATH, httpOnly: true, sameSite: 'lax', secure: options.secureCookies });
        }
        const status = request.query.status === 'saved' || request.query.status === 'unchanged' ? request.query.status : undefined;
        const token = request.params.token;
        const rights = options.rights
          ? await options.rights.render({
              locale,
              profile: opened.profile,
              csrfToken: csrfToken(cookie, opened.link),
              token,
              lang: explicit,
            })
          : undefined;
        return sendHtml(
          reply,
          200,
          renderPreferencesPage({
            locale,
            catalogLocale,
            brand: options.brand,
            catalog: options.catalog,
            recipients: options.recipients ?? {},
            profile: opened.profile,
            policy: options.policy,
            reasons: reasonsOf(opened.profile),
            formAction: pageUrl(token, { lang: explicit }),
            csrfToken: csrfToken(cookie, opened.link),
            ...(status ? { status } : {}),
            switchUrl: (l) => pageUrl(token, { lang: l }),
            ...(rights ? { rights } : {}),
          }),
        );
      },
    );

    scope.post<{ Params: { token: string }; Querystring: { lang?: string } }>(
      `${PATH}/:token`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { explicit, catalogLocale, locale } = languageOf(request, request.query.lang);
        const opened = await open(request);
        if (!opened) return forbidden(request, reply, locale);
        const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
        const cookie = request.cookies[CSRF_COOKIE];
        const given = Buffer.from(typeof form['_csrf'] === 'string' ? form['_csrf'] : '', 'utf8');
        const expected = Buffer.from(cookie ? csrfToken(cookie, opened.link) : '', 'utf8');
        if (!cookie || given.length !== expected.length || !timingSafeEqual(given, expected)) {
          request.log.info({ reason: 'csrf' }, 'preference form refused');
          return sendHtml(
            reply,
            403,
            renderErrorPage({ locale, brand: options.brand, kind: 'session', retryUrl: pageUrl(request.params.token, { lang: explicit }) }),
          );
        }

        const now = new Date(options.now());
        const patchId = `preference_center:${uuidv7()}`;
        const userAgent = request.headers['user-agent'];
        const changes = preferenceChanges(
          opened.profile,
          options.catalog,
          options.policy,
          { consents: formValues(form['consent']), topics: formValues(form['topic']) },
          { ip: request.ip, ...(userAgent ? { userAgent: userAgent.slice(0, 1000) } : {}), reference: patchId },
          now,
          // The language the form was shown in (the notices the person read), else the request's.
          requestedLocale(form['_locale'], options.catalog.locales) ?? catalogLocale,
        );
        let status: 'saved' | 'unchanged' = 'unchanged';
        if (changes.count.consents + changes.count.topics > 0) {
          const at = now.toISOString();
          const result = await options.ingestPatch(
            {
              id: patchId,
              source: 'preference_center',
              at,
              receivedAt: at,
              identities: asLookupKeys(opened.profile.identities),
              attributes: {},
              consents: changes.consents,
              subscriptions: changes.subscriptions,
              rights: { objections: {} },
            },
            { actor: 'preference_center' },
          );
          if (result.status === 'suppressed' || result.status === 'no_identity') return forbidden(request, reply, locale);
          if (result.status === 'applied') status = 'saved';
          options.metrics.preferenceChanges.inc({ kind: 'consent' }, changes.count.consents);
          options.metrics.preferenceChanges.inc({ kind: 'topic' }, changes.count.topics);
        }
        return reply
          .code(303)
          .header('cache-control', 'no-store')
          .redirect(pageUrl(request.params.token, { lang: explicit, status }), 303);
      },
    );
  });
}
