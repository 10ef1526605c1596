/**
 * The public request page (`/requests`): a person without a preference link asks for a copy of
 * their data or its erasure. Server-rendered, no JavaScript, CSP-clean; in the visitor's language
 * among the catalog's locales like the preference center (its mails too); every form carries a CSRF token bound to a cookie (and, on the
 * confirmation page, to the link). Opening a link (GET) changes nothing: mail scanners fetch
 * links; only the confirmation form (POST) uses it and makes the request.
 *
 * - `GET /requests`: the form. `POST /requests`: mails the link; the answer is the same for
 *   every well-formed address (no account enumeration); too many requests from one client: 429.
 * - `GET /requests/confirm/:token`: the confirmation page, or why the link no longer works.
 * - `POST /requests/confirm/:token`: uses the link and makes the request.
 * - `GET /requests/download/:token`: an export's download from the completion notice.
 * - `GET /dev/mail` (development mode, loopback clients only): the mails the catcher caught.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MailCatcher } from '../../mail/index.js';
import { exportCsv } from '../../privacy/index.js';
import { isLoopbackHost } from '../../config/loopback.js';
import type { ServerPrivacy } from '../deps.js';
import { html } from '../html.js';
import type { Html } from '../html.js';
import type { DownloadLinks } from '../preferences/downloads.js';
import { pageLanguage } from '../preferences/i18n.js';
import type { PageLanguage, PageLanguages } from '../preferences/i18n.js';
import { deriveKey } from '../preferences/links.js';
import { layout } from '../preferences/view.js';
import type { Brand } from '../preferences/view.js';
import { REQUEST_MESSAGES } from './i18n.js';
import type { RequestMessages } from './i18n.js';
import { REQUESTS_PATH, tokenHash, VERIFIED_META } from './service.js';
import type { RequesterVerifications } from './service.js';
import { sendHtml } from '../send-html.js';

export const REQUEST_CSRF_COOKIE = 'concord_rq';

export interface RequestRouteOptions {
  verifications: RequesterVerifications;
  privacy: ServerPrivacy;
  brand: Brand;
  signingSecret: string;
  secureCookies: boolean;
  /** Requests per minute per client address on these pages (the preference center's). */
  rateLimit: number;
  /** Download links of completion notices. */
  downloads: DownloadLinks;
  /** Development mode's catcher: its mails are shown at /dev/mail. */
  catcher?: MailCatcher;
  /** The catalog's languages: the page and its mails speak the visitor's one among them. */
  languages: PageLanguages;
}

type Form = Record<string, unknown>;

function withLang(path: string, lang: string | undefined): string {
  return lang ? `${path}?lang=${lang}` : path;
}

function formOf(request: FastifyRequest): Form {
  const body: unknown = request.body;
  return typeof body === 'object' && body !== null ? Object.fromEntries(Object.entries(body)) : {};
}

export async function registerRequests(app: FastifyInstance, options: RequestRouteOptions): Promise<void> {
  const rateLimit = { max: options.rateLimit, timeWindow: '1 minute' };
  const csrfKey = deriveKey(options.signingSecret, 'request-csrf');
  const csrfFor = (cookie: string, context: string): string =>
    createHmac('sha256', csrfKey).update(`${cookie}.${context}`).digest('base64url');
  const { brand } = options;

  const { locales } = options.languages;
  const languageOf = (request: FastifyRequest, stored?: string): PageLanguage => {
    const query: unknown = request.query;
    const lang = typeof query === 'object' && query !== null && 'lang' in query ? query.lang : undefined;
    return pageLanguage(options.languages, { lang, acceptLanguage: request.headers['accept-language'], ...(stored ? { stored } : {}) });
  };

  function cookieOf(request: FastifyRequest, reply: FastifyReply): string {
    let cookie = request.cookies[REQUEST_CSRF_COOKIE];
    if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) {
      cookie = randomBytes(32).toString('base64url');
      reply.setCookie(REQUEST_CSRF_COOKIE, cookie, { path: REQUESTS_PATH, httpOnly: true, sameSite: 'lax', secure: options.secureCookies });
    }
    return cookie;
  }

  function csrfOk(request: FastifyRequest, form: Form, context: string): boolean {
    const cookie = request.cookies[REQUEST_CSRF_COOKIE];
    const given = Buffer.from(typeof form['_csrf'] === 'string' ? form['_csrf'] : '', 'utf8');
    const expected = Buffer.from(cookie ? csrfFor(cookie, context) : '', 'utf8');
    return cookie !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
  }

  function page(language: PageLanguage, title: string, body: Html, switchUrl?: (l: string) => string): string {
    return layout({
      locale: language.ui,
      brand,
      title,
      languages: { available: locales, current: language.current },
      body: html`<main id="content"><section class="card">${body}</section></main>`,
      ...(switchUrl ? { switchUrl } : {}),
    });
  }

  function message(language: PageLanguage, title: string, text: string, again = true): string {
    const r = REQUEST_MESSAGES[language.ui];
    return page(
      language,
      title,
      html`<h1>${title}</h1><p class="lead" role="status">${text}</p>${again ? html`<p><a href="${withLang(REQUESTS_PATH, language.lang)}">${r.startAgain}</a></p>` : ''}`,
    );
  }

  function formPage(language: PageLanguage, csrf: string, error?: string, email = ''): string {
    const r: RequestMessages = REQUEST_MESSAGES[language.ui];
    const { lang } = language;
    const option = (value: 'export' | 'erase', text: { title: string; text: string }, checked: boolean): Html =>
      html`<label class="check" for="kind-${value}"><input type="radio" id="kind-${value}" name="kind" value="${value}"${checked ? html` checked` : ''}>
<span>${text.title}<small>${text.text}</small></span></label>`;
    return page(
      language,
      r.pageTitle,
      html`<h1>${r.heading}</h1><p class="lead">${r.intro(brand.name)}</p>
<form method="post" action="${withLang(REQUESTS_PATH, lang)}"><input type="hidden" name="_csrf" value="${csrf}">
${error ? html`<p class="banner info" role="alert">${error}</p>` : ''}
<p><label for="email"><strong>${r.emailLabel}</strong></label><br><input type="email" id="email" name="email" value="${email}" required autocomplete="email" maxlength="320" size="40" aria-describedby="email-hint"><br><small id="email-hint" class="hint">${r.emailHint}</small></p>
<fieldset><legend>${r.kindLegend}</legend>${option('export', r.kindExport, true)}${option('erase', r.kindErase, false)}</fieldset>
<p><button type="submit" class="button">${r.submit}</button></p></form>`,
      (l) => withLang(REQUESTS_PATH, l),
    );
  }

  await app.register(async (scope) => {
    scope.get(REQUESTS_PATH, { config: { rateLimit } }, async (request, reply) => {
      return sendHtml(reply, 200, formPage(languageOf(request), csrfFor(cookieOf(request, reply), 'form')));
    });

    scope.post(REQUESTS_PATH, { config: { rateLimit } }, async (request, reply) => {
      const language = languageOf(request);
      const r = REQUEST_MESSAGES[language.ui];
      const form = formOf(request);
      if (!csrfOk(request, form, 'form')) {
        request.log.info({ reason: 'csrf' }, 'request form refused');
        return sendHtml(reply, 403, message(language, r.sessionTitle, r.sessionText));
      }
      const email = typeof form['email'] === 'string' ? form['email'].slice(0, 400) : '';
      const kind = form['kind'] === 'erase' ? 'erase' : 'export';
      const outcome = await options.verifications.ask({ email, kind, locale: language.current, client: request.ip });
      if (outcome === 'invalid_email')
        return sendHtml(reply, 400, formPage(language, csrfFor(cookieOf(request, reply), 'form'), r.invalidEmail, email));
      if (outcome === 'limited_client') {
        request.log.info({ reason: 'client_limit' }, 'requester verification not sent');
        return sendHtml(reply.header('retry-after', '600'), 429, message(language, r.tooManyTitle, r.tooManyText, false));
      }
      if (outcome === 'mail_failed')
        return sendHtml(reply.header('retry-after', '300'), 503, message(language, r.mailFailedTitle, r.mailFailedText));
      // Sent, or an address over its limit: the same answer, so no one learns which.
      const minutes = Math.max(1, Math.round(options.verifications.ttlMs / 60_000));
      return sendHtml(reply, 200, message(language, r.sentTitle, r.sentText(minutes), false));
    });

    scope.get<{ Params: { token: string } }>(`${REQUESTS_PATH}/confirm/:token`, { config: { rateLimit } }, async (request, reply) => {
      const state = await options.verifications.inspect(request.params.token);
      const language = languageOf(request, state.status === 'valid' ? state.locale : undefined);
      const r = REQUEST_MESSAGES[language.ui];
      if (state.status !== 'valid') return linkProblem(reply, language, state.status);
      const csrf = csrfFor(cookieOf(request, reply), tokenHash(request.params.token));
      // The result page speaks the language the link was asked in, even when the link lost its ?lang=.
      const action = withLang(`${REQUESTS_PATH}/confirm/${encodeURIComponent(request.params.token)}`, language.lang ?? language.current);
      return sendHtml(
        reply,
        200,
        page(
          language,
          r.confirmTitle,
          html`<h1>${r.confirmTitle}</h1><p class="lead">${state.kind === 'erase' ? r.confirmErase(brand.name) : r.confirmExport}</p>
<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrf}"><p><button type="submit" class="button">${r.confirmButton}</button></p></form>`,
        ),
      );
    });

    scope.post<{ Params: { token: string } }>(`${REQUESTS_PATH}/confirm/:token`, { config: { rateLimit } }, async (request, reply) => {
      const language = languageOf(request);
      const r = REQUEST_MESSAGES[language.ui];
      if (!csrfOk(request, formOf(request), tokenHash(request.params.token))) {
        request.log.info({ reason: 'csrf' }, 'request confirmation refused');
        return sendHtml(reply, 403, message(language, r.sessionTitle, r.sessionText));
      }
      const outcome = await options.verifications.confirm(request.params.token, (input, meta) => options.privacy.submit(input, meta));
      if (outcome.status === 'created')
        return sendHtml(
          reply,
          200,
          page(
            language,
            r.doneTitle,
            html`<h1>${r.doneTitle}</h1><p class="hint">${r.reference(outcome.request.id)}</p><p class="lead" role="status">${r.doneText}</p>`,
          ),
        );
      if (outcome.status === 'failed') return sendHtml(reply, 409, message(language, r.doneTitle, r.failedText));
      return linkProblem(reply, language, outcome.status);
    });

    scope.get<{ Params: { token: string }; Querystring: { format?: string } }>(
      `${REQUESTS_PATH}/download/:token`,
      { config: { rateLimit } },
      async (request, reply) => {
        const language = languageOf(request);
        const r = REQUEST_MESSAGES[language.ui];
        const check = options.downloads.verify(request.params.token);
        const doc = check.ok ? await options.privacy.exportDocument(check.dsrId) : null;
        if (!check.ok || !doc?.ok) return sendHtml(reply, 410, message(language, r.expiredTitle, r.expiredText));
        const csv = request.query.format === 'csv';
        await options.privacy.recordDownload(check.dsrId, VERIFIED_META.actor, csv ? 'csv' : 'json');
        return reply
          .code(200)
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="my-data-${check.dsrId}.${csv ? 'csv' : 'json'}"`)
          .type(csv ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8')
          .send(csv ? exportCsv(doc.value) : JSON.stringify(doc.value, null, 2));
      },
    );

    const { catcher } = options;
    if (catcher) {
      scope.get('/dev/mail', async (request, reply) => {
        if (!isLoopbackHost(request.ip)) return reply.code(404).send();
        const mails = catcher.messages().reverse();
        return sendHtml(
          reply,
          200,
          layout({
            locale: 'en',
            brand,
            title: 'Caught mail',
            body: html`<main id="content"><h1>Caught mail (development)</h1><p class="lead">${mails.length} message(s) the embedded SMTP catcher received, newest first. Nothing here was delivered.</p>
${mails.map(
  (m) =>
    html`<section class="card"><h2>${m.subject}</h2><p class="hint">#${m.seq} · ${m.receivedAt} · to ${m.to.join(', ')} · from ${m.from}${m.language ? ` · ${m.language}` : ''}</p><pre>${m.text}</pre></section>`,
)}</main>`,
          }),
        );
      });
    }
  });

  function linkProblem(reply: FastifyReply, language: PageLanguage, status: 'expired' | 'used' | 'unknown'): FastifyReply {
    const r = REQUEST_MESSAGES[language.ui];
    const [title, text, code] =
      status === 'expired'
        ? [r.expiredTitle, r.expiredText, 410]
        : status === 'used'
          ? [r.usedTitle, r.usedText, 410]
          : [r.unknownTitle, r.unknownText, 404];
    return sendHtml(reply, code, message(language, title, text));
  }
}
