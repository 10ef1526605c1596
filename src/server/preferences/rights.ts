/**
 * The person's rights in the preference center, working (privacy/ is configured): download a
 * copy of their data, restrict processing or lift the restriction, object to direct marketing
 * or profiling or withdraw the objection, and erase their data after a confirmation page. Each
 * action is a form (CSRF-protected like the preferences form) that makes a data-subject request
 * with origin `preference_center`, then shows the request's page: an export offers its
 * download through short-lived signed links once ready. No JavaScript: the waiting page
 * refreshes itself.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DsrInputData, DsrView } from '../../privacy/index.js';
import { exportCsv } from '../../privacy/index.js';
import { EXPORT_HTML_CSP, exportHtml } from '../export-html.js';
import { hasObjection, isRestricted } from '../../profile/effective.js';
import type { Profile } from '../../profile/schema.js';
import type { Store } from '../../store/types.js';
import type { ServerPrivacy } from '../deps.js';
import { html } from '../html.js';
import type { Html } from '../html.js';
import type { DownloadLinks } from './downloads.js';
import { MESSAGES, pageLanguage } from './i18n.js';
import type { Locale, PageLanguage, PageLanguages } from './i18n.js';
import type { PreferenceLinks, VerifiedLink } from './links.js';
import { RIGHTS_MESSAGES } from './rights-i18n.js';
import { CSRF_COOKIE, csrfTokenFor } from './routes.js';
import type { RightsSection } from './routes.js';
import { layout, renderErrorPage } from './view.js';
import type { Brand } from './view.js';
import { sendHtml } from '../send-html.js';

const PATH = '/preferences';

/** The self-service actions and the request each makes. */
export const RIGHT_ACTIONS = {
  download: { kind: 'export', includeLive: true },
  restrict: { kind: 'restrict' },
  unrestrict: { kind: 'unrestrict' },
  'object-marketing': { kind: 'object', objection: 'directMarketing' },
  'withdraw-marketing': { kind: 'withdraw_objection', objection: 'directMarketing' },
  'object-profiling': { kind: 'object', objection: 'profiling' },
  'withdraw-profiling': { kind: 'withdraw_objection', objection: 'profiling' },
  erase: { kind: 'erase' },
} as const;
export type RightAction = keyof typeof RIGHT_ACTIONS;

function isAction(value: string): value is RightAction {
  return Object.hasOwn(RIGHT_ACTIONS, value);
}

function withLang(path: string, lang: string | undefined, extra: Record<string, string> = {}): string {
  const search = new URLSearchParams({ ...(lang ? { lang } : {}), ...extra }).toString();
  return search ? `${path}?${search}` : path;
}

const tokenPath = (token: string): string => `${PATH}/${encodeURIComponent(token)}`;

export interface RightsOptions {
  privacy: ServerPrivacy;
  store: Store;
  links: PreferenceLinks;
  downloads: DownloadLinks;
  brand: Brand;
  signingSecret: string;
  secureCookies: boolean;
  rateLimit: number;
  /** The catalog's languages (the pages follow the visitor's, like the preference center). */
  languages: PageLanguages;
}

/** The rights section of the preferences page, with working actions. */
export function rightsSection(): RightsSection {
  return {
    async render({ locale, profile, csrfToken, token, lang }) {
      const m = MESSAGES[locale];
      const r = RIGHTS_MESSAGES[locale];
      const form = (action: RightAction, label: string, danger = false): Html =>
        html`<form method="post" action="${withLang(`${tokenPath(token)}/rights/${action}`, lang)}"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit" class="act${danger ? ' danger' : ''}">${label}</button></form>`;
      const badge = (on: boolean, text: string): Html | '' => (on ? html`<span class="state">${text}</span>` : '');
      const restricted = isRestricted(profile);
      const marketing = hasObjection(profile, 'directMarketing');
      const profiling = hasObjection(profile, 'profiling');
      const item = (key: keyof typeof m.rights, side: Html): Html =>
        html`<li><div><h3>${m.rights[key].title}</h3><p>${m.rights[key].text}</p></div><div class="side">${side}</div></li>`;
      return html`<section class="card" aria-labelledby="rights-heading">
<h2 id="rights-heading">${m.rightsHeading}</h2>
<p class="hint">${m.rightsIntro}</p>
<ul class="rights">
${item('download', form('download', m.rights.download.action))}
${item('restrict', html`${badge(restricted, r.restrictedBadge)}${restricted ? form('unrestrict', r.restrictLift) : form('restrict', m.rights.restrict.action)}`)}
${item('objectMarketing', html`${badge(marketing, r.objectedBadge)}${marketing ? form('withdraw-marketing', r.objectWithdraw) : form('object-marketing', m.rights.objectMarketing.action)}`)}
${item('objectProfiling', html`${badge(profiling, r.objectedBadge)}${profiling ? form('withdraw-profiling', r.objectWithdraw) : form('object-profiling', m.rights.objectProfiling.action)}`)}
${item('erase', html`<a class="act danger" href="${withLang(`${tokenPath(token)}/rights/erase`, lang)}">${m.rights.erase.action}</a>`)}
</ul>
<p class="note">${r.note}</p>
</section>`;
    },
  };
}

type TokenRequest = FastifyRequest<{ Params: { token: string }; Querystring: { lang?: string } }>;

export async function registerRights(app: FastifyInstance, options: RightsOptions): Promise<void> {
  const rateLimit = { max: options.rateLimit, timeWindow: '1 minute' };
  const languageOf = (request: FastifyRequest, lang: unknown): PageLanguage =>
    pageLanguage(options.languages, { lang, acceptLanguage: request.headers['accept-language'] });
  const forbidden = (reply: FastifyReply, locale: Locale): FastifyReply =>
    sendHtml(reply, 403, renderErrorPage({ locale, brand: options.brand, kind: 'forbidden' }));

  async function open(request: TokenRequest): Promise<{ link: VerifiedLink; profile: Profile } | null> {
    const check = await options.links.verify(request.params.token);
    if (!check.ok) return null;
    const profile = await options.store.getProfile(check.link.profileId);
    if (!profile) return null;
    if (profile.id !== check.link.profileId && (await options.links.isRevoked(profile.id, check.link.issuedAt))) return null;
    return { link: check.link, profile };
  }

  function csrfCookie(request: FastifyRequest, reply: FastifyReply): string {
    let cookie = request.cookies[CSRF_COOKIE];
    if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
      cookie = randomBytes(32).toString('base64url');
      reply.setCookie(CSRF_COOKIE, cookie, { path: PATH, httpOnly: true, sameSite: 'lax', secure: options.secureCookies });
    }
    return cookie;
  }

  function csrfOk(request: FastifyRequest, link: VerifiedLink, form: Record<string, unknown>): boolean {
    const cookie = request.cookies[CSRF_COOKIE];
    const given = Buffer.from(typeof form['_csrf'] === 'string' ? form['_csrf'] : '', 'utf8');
    const expected = Buffer.from(cookie ? csrfTokenFor(options.signingSecret, cookie, link) : '', 'utf8');
    return cookie !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  }

  function page(locale: Locale, title: string, body: Html): string {
    return layout({ locale, brand: options.brand, title, body: html`<main id="content"><section class="card">${body}</section></main>` });
  }

  function requestPage(locale: Locale, view: DsrView, token: string, lang: string | undefined): { body: string; refresh?: number } {
    const r = RIGHTS_MESSAGES[locale];
    const back = html`<p><a href="${withLang(tokenPath(token), lang)}">${r.back}</a></p>`;
    const reference = html`<p class="hint">${r.reference(view.id)}</p>`;
    if (view.kind === 'export') {
      if (view.export?.ready) {
        const dl = options.downloads.issue(view.id, view.profileId ?? '');
        const minutes = Math.max(1, Math.round(options.downloads.ttl / 60_000));
        return {
          body: page(
            locale,
            r.requestTitle,
            html`<h1>${MESSAGES[locale].rights.download.title}</h1>${reference}
<p class="lead">${r.exportReady(minutes)}</p>${view.status === 'failed' ? html`<p>${r.exportFailed}</p>` : ''}
<p><a class="button" href="${`${PATH}/download/${dl}?format=json`}" download>${r.downloadJson}</a></p>
<p><a href="${`${PATH}/download/${dl}?format=csv`}" download>${r.downloadCsv}</a></p>
<p><a href="${`${PATH}/download/${dl}?format=html`}" download>${r.downloadHtml}</a></p>${back}`,
          ),
        };
      }
      const text = view.status === 'failed' ? r.requestFailed : r.exportPreparing;
      return {
        body: page(
          locale,
          r.requestTitle,
          html`<h1>${MESSAGES[locale].rights.download.title}</h1>${reference}<p class="lead" role="status">${text}</p>${back}`,
        ),
        ...(view.status === 'failed' ? {} : { refresh: 3 }),
      };
    }
    const text = view.status === 'failed' ? r.requestFailed : view.kind === 'erase' ? r.eraseStarted : r.changeStarted;
    return {
      body: page(
        locale,
        r.requestTitle,
        html`<h1>${r.requestTitle}</h1>${reference}<p class="lead" role="status">${text}</p>${view.kind === 'erase' ? '' : back}`,
      ),
    };
  }

  await app.register(async (scope) => {
    scope.get<{ Params: { token: string }; Querystring: { lang?: string } }>(
      `${PATH}/:token/rights/erase`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { lang, ui: locale } = languageOf(request, request.query.lang);
        const opened = await open(request);
        if (!opened) return forbidden(reply, locale);
        const cookie = csrfCookie(request, reply);
        const r = RIGHTS_MESSAGES[locale];
        const token = request.params.token;
        return sendHtml(
          reply,
          200,
          page(
            locale,
            r.eraseConfirmTitle,
            html`<h1>${r.eraseConfirmTitle}</h1><p class="lead">${r.eraseConfirmText(options.brand.name)}</p>
<form method="post" action="${withLang(`${tokenPath(token)}/rights/erase`, lang)}"><input type="hidden" name="_csrf" value="${csrfTokenFor(options.signingSecret, cookie, opened.link)}"><input type="hidden" name="confirm" value="yes">
<p><button type="submit" class="button">${r.eraseConfirm}</button></p></form>
<p><a href="${withLang(tokenPath(token), lang)}">${r.cancel}</a></p>`,
          ),
        );
      },
    );

    scope.post<{ Params: { token: string; action: string }; Querystring: { lang?: string } }>(
      `${PATH}/:token/rights/:action`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { lang, ui: locale } = languageOf(request, request.query.lang);
        const opened = await open(request);
        if (!opened || !isAction(request.params.action)) return forbidden(reply, locale);
        const form = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as Record<string, unknown>;
        const token = request.params.token;
        if (!csrfOk(request, opened.link, form)) {
          request.log.info({ reason: 'csrf' }, 'rights form refused');
          return sendHtml(
            reply,
            403,
            renderErrorPage({ locale, brand: options.brand, kind: 'session', retryUrl: withLang(tokenPath(token), lang) }),
          );
        }
        const action = request.params.action;
        if (action === 'erase' && form['confirm'] !== 'yes')
          return reply.code(303).redirect(withLang(`${tokenPath(token)}/rights/erase`, lang), 303);
        const input: DsrInputData = { ...RIGHT_ACTIONS[action], subject: { profileId: opened.profile.id } };
        const result = await options.privacy.submit(input, { origin: 'preference_center', actor: 'preference_center' });
        if (!result.ok) {
          request.log.info({ code: result.error.code }, 'self-service request refused');
          return sendHtml(
            reply,
            409,
            page(locale, RIGHTS_MESSAGES[locale].requestTitle, html`<p class="lead">${RIGHTS_MESSAGES[locale].requestFailed}</p>`),
          );
        }
        return reply
          .code(303)
          .header('cache-control', 'no-store')
          .redirect(withLang(`${tokenPath(token)}/requests/${result.value.id}`, lang), 303);
      },
    );

    scope.get<{ Params: { token: string; dsrId: string }; Querystring: { lang?: string } }>(
      `${PATH}/:token/requests/:dsrId`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { lang, ui: locale } = languageOf(request, request.query.lang);
        const opened = await open(request);
        if (!opened) return forbidden(reply, locale);
        const view = await options.privacy.get(request.params.dsrId);
        // Only the person's own requests, and nothing that says whether another id exists.
        if (!view.ok || view.value.profileId !== opened.profile.id) return forbidden(reply, locale);
        const rendered = requestPage(locale, view.value, request.params.token, lang);
        return sendHtml(reply, 200, rendered.body, rendered.refresh);
      },
    );

    scope.get<{ Params: { download: string }; Querystring: { format?: string; lang?: string } }>(
      `${PATH}/download/:download`,
      { config: { rateLimit } },
      async (request, reply) => {
        const { ui: locale } = languageOf(request, request.query.lang);
        const check = options.downloads.verify(request.params.download);
        const expired = (): FastifyReply => {
          const r = RIGHTS_MESSAGES[locale];
          return sendHtml(
            reply,
            403,
            page(locale, r.downloadExpiredTitle, html`<h1>${r.downloadExpiredTitle}</h1><p class="lead">${r.downloadExpiredText}</p>`),
          );
        };
        if (!check.ok) {
          request.log.info({ reason: check.reason }, 'download link refused');
          return expired();
        }
        const view = await options.privacy.get(check.dsrId);
        if (!view.ok || view.value.profileId !== check.profileId) return expired();
        const doc = await options.privacy.exportDocument(check.dsrId);
        if (!doc.ok) return expired();
        const format = request.query.format === 'csv' || request.query.format === 'html' ? request.query.format : 'json';
        await options.privacy.recordDownload(check.dsrId, 'preference_center', format);
        const body =
          format === 'csv' ? exportCsv(doc.value) : format === 'html' ? exportHtml(doc.value) : JSON.stringify(doc.value, null, 2);
        // The readable page runs nothing and loads nothing: its own policy allows its style block only.
        if (format === 'html') reply.header('content-security-policy', EXPORT_HTML_CSP);
        return reply
          .code(200)
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="my-data-${check.dsrId}.${format}"`)
          .type(
            format === 'csv'
              ? 'text/csv; charset=utf-8'
              : format === 'html'
                ? 'text/html; charset=utf-8'
                : 'application/json; charset=utf-8',
          )
          .send(body);
      },
    );
  });
}
