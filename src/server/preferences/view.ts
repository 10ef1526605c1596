/**
 * Server-rendered pages of the preference center: the preferences page and the friendly
 * error pages. No JavaScript; every control is a labelled form field, keyboard-operable,
 * with visible focus and colours of at least 4.5:1 contrast.
 */
import { noticeIn, textIn } from '../../config/localized.js';
import type { LocalizedText } from '../../config/localized.js';
import type { Catalog, PreferenceCenterConfig } from '../../config/schema.js';
import type { EffectiveConsentReason } from '../../profile/effective.js';
import { primaryIdentity } from '../../profile/identities.js';
import type { MergePolicy, Profile } from '../../profile/schema.js';
import { html, raw } from '../html.js';
import type { Html } from '../html.js';
import { languageName, LOCALES, MESSAGES } from './i18n.js';
import type { Locale, Messages } from './i18n.js';
import type { Recipient } from './transparency.js';

export interface Brand {
  name: string;
  accent: string;
  supportEmail?: string;
}

export function brandOf(config: PreferenceCenterConfig): Brand {
  return { name: config.brand, accent: config.accentColor, ...(config.supportEmail ? { supportEmail: config.supportEmail } : {}) };
}

function styles(accent: string): string {
  return `
:root{--accent:${accent};--ink:#17202b;--muted:#4f5a67;--line:#d9dee5;--bg:#f3f5f8;--card:#fff;--ok-bg:#e7f4ec;--ok-ink:#14532d;--warn-bg:#fdf3e1;--warn-ink:#6b4100}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Hiragino Sans","Noto Sans JP",sans-serif}
a{color:var(--accent)}
.skip{position:absolute;left:-9999px;top:0;background:#fff;padding:8px 12px;z-index:10}
.skip:focus{left:12px;top:12px}
.topbar{background:var(--card);border-bottom:1px solid var(--line)}
.topbar-inner{max-width:760px;margin:0 auto;padding:14px 24px;display:flex;align-items:center;justify-content:space-between;gap:16px}
.brand{display:flex;align-items:center;gap:10px;font-weight:650;font-size:1.05rem;letter-spacing:.01em}
.mark{width:34px;height:34px;border-radius:9px;background:var(--accent);color:#fff;display:grid;place-items:center;font-weight:700}
.lang{font-size:.9rem;color:var(--muted)}
.lang a,.lang span{margin-left:10px}
.lang span[aria-current]{font-weight:650;color:var(--ink)}
main{max-width:760px;margin:0 auto;padding:32px 24px 48px}
h1{font-size:1.75rem;line-height:1.25;margin:0 0 8px}
.lead{color:var(--muted);margin:0 0 8px}
.who{display:inline-block;margin:8px 0 24px;padding:6px 12px;border-radius:999px;background:var(--card);border:1px solid var(--line);font-size:.9rem;color:var(--muted)}
.who strong{color:var(--ink);font-weight:600}
.banner{border-radius:10px;padding:14px 16px;margin:0 0 24px;font-weight:500}
.banner.ok{background:var(--ok-bg);color:var(--ok-ink);border:1px solid #b7dfc5}
.banner.info{background:var(--card);border:1px solid var(--line)}
.card{background:var(--card);border:1px solid var(--line);border-radius:14px;padding:24px;margin:0 0 20px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card>h2{font-size:1.2rem;margin:0 0 4px}
.hint{color:var(--muted);margin:0 0 16px;font-size:.95rem}
.purpose{padding:18px 0;border-top:1px solid var(--line)}
.purpose:first-of-type{border-top:0;padding-top:4px}
fieldset{border:0;margin:0;padding:0;min-width:0}
legend{font-weight:650;font-size:1.05rem;padding:0;margin-bottom:4px}
.desc{margin:0 0 10px;color:var(--muted)}
.notice{margin:0 0 12px;padding:10px 12px;border-left:3px solid var(--accent);background:#f7f9fb;font-size:.93rem}
.notice small{display:block;margin-top:4px;color:var(--muted)}
.options{display:flex;flex-wrap:wrap;gap:10px}
.toggle{display:flex;align-items:center;gap:10px;padding:10px 14px;border:1px solid var(--line);border-radius:10px;cursor:pointer;min-width:150px;background:#fff}
.toggle:hover{border-color:#aab3bf}
.toggle input{appearance:none;-webkit-appearance:none;margin:0;width:40px;height:24px;border-radius:999px;background:#8a94a1;position:relative;flex:none;cursor:pointer;transition:background .15s}
.toggle input::after{content:"";position:absolute;top:3px;left:3px;width:18px;height:18px;border-radius:50%;background:#fff;transition:transform .15s}
.toggle input:checked{background:var(--accent)}
.toggle input:checked::after{transform:translateX(16px)}
.toggle input:focus-visible{outline:3px solid var(--accent);outline-offset:3px}
.toggle input:disabled{background:#c9cfd6;cursor:not-allowed}
.toggle.blocked{background:#f7f8fa;cursor:not-allowed}
.blocked-note{flex-basis:100%;margin:6px 0 0;font-size:.88rem;color:var(--warn-ink);background:var(--warn-bg);padding:6px 10px;border-radius:8px}
.check{display:flex;gap:12px;align-items:flex-start;padding:12px 0;border-top:1px solid var(--line);cursor:pointer}
.check:first-of-type{border-top:0}
.check input{width:20px;height:20px;margin:2px 0 0;accent-color:var(--accent);flex:none}
.check input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.check span{display:block}
.check small{display:block;color:var(--muted);font-size:.9rem}
.actions{display:flex;align-items:center;justify-content:space-between;gap:16px;flex-wrap:wrap;margin:4px 0 32px}
.actions p{margin:0;color:var(--muted);font-size:.9rem}
.button{appearance:none;border:0;border-radius:10px;background:var(--accent);color:#fff;font:inherit;font-weight:600;padding:12px 22px;cursor:pointer;box-shadow:0 1px 2px rgba(16,24,40,.12)}
.button:hover{filter:brightness(1.08)}
.button:focus-visible{outline:3px solid var(--ink);outline-offset:3px}
.rights{list-style:none;margin:0;padding:0}
.rights li{display:flex;justify-content:space-between;align-items:center;gap:16px;padding:14px 0;border-top:1px solid var(--line)}
.rights li:first-child{border-top:0}
.rights h3{font-size:1rem;margin:0}
.rights p{margin:2px 0 0;color:var(--muted);font-size:.93rem}
.rights .side{display:flex;flex-direction:column;align-items:flex-end;gap:4px;flex:none}
.rights form{margin:0}
.rights .act{appearance:none;font:inherit;font-size:.9rem;font-weight:600;padding:7px 14px;border-radius:9px;border:1px solid var(--accent);background:#fff;color:var(--accent);cursor:pointer;text-decoration:none;display:inline-block}
.rights .act:hover{background:#f3f7fb}
.rights .act:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.rights .act.danger{border-color:#a61b1b;color:#a61b1b}
.state{font-size:.8rem;color:var(--ok-ink);background:var(--ok-bg);padding:2px 8px;border-radius:999px;white-space:nowrap}
.ghost{appearance:none;font:inherit;font-size:.9rem;padding:7px 14px;border-radius:9px;border:1px solid var(--line);background:#f1f3f6;color:#6b7480}
.badge{font-size:.78rem;color:var(--muted);white-space:nowrap}
.note{margin:14px 0 0;font-size:.9rem;color:var(--muted)}
.purpose>h3{font-size:1.05rem;margin:0 0 8px}
.facts{display:grid;grid-template-columns:minmax(140px,max-content) 1fr;gap:6px 16px;margin:0}
.facts dt{font-weight:600;color:var(--muted);font-size:.93rem}
.facts dd{margin:0}
.systems{margin:0;padding:0;list-style:none}
@media (max-width:560px){.facts{grid-template-columns:1fr}.facts dd{margin-bottom:8px}}
footer{max-width:760px;margin:0 auto;padding:0 24px 40px;color:var(--muted);font-size:.85rem;display:flex;justify-content:space-between;gap:16px;flex-wrap:wrap}
.error-card{text-align:center;padding:40px 28px}
.error-card .icon{width:56px;height:56px;border-radius:50%;margin:0 auto 16px;display:grid;place-items:center;background:#eef1f5;color:var(--ink);font-size:1.6rem;font-weight:700}
@media (max-width:560px){.rights li{flex-direction:column;align-items:flex-start}.rights .side{align-items:flex-start}.toggle{min-width:0;flex:1 1 100%}}
`;
}

/** `ada@example.com` -> `a•••@example.com`: enough to recognise, not to read out. */
export function maskEmail(email: string): string {
  const at = email.indexOf('@');
  if (at <= 0) return '•••';
  return `${email.charAt(0)}•••${email.slice(at)}`;
}

export interface LayoutInput {
  /** The interface language (also the page's `<html lang>`). */
  locale: Locale;
  brand: Brand;
  title: string;
  /** The current URL with `lang` set to a locale, for the language switch. */
  switchUrl?: (locale: string) => string;
  /** The languages the switch offers and the one shown. Default: the interface's languages. */
  languages?: { available: readonly string[]; current: string };
  body: Html;
}

export function layout({ locale, brand, title, switchUrl, languages: offered, body }: LayoutInput): string {
  const m = MESSAGES[locale];
  const { available, current } = offered ?? { available: LOCALES, current: locale };
  const languages =
    switchUrl && available.length > 1
      ? html`<nav class="lang" aria-label="${m.language}">${m.language}:${available.map((l) =>
          l === current
            ? html`<span aria-current="true" lang="${l}">${languageName(l)}</span>`
            : html`<a href="${switchUrl(l)}" lang="${l}" hreflang="${l}">${languageName(l)}</a>`,
        )}</nav>`
      : '';
  return `<!doctype html>${
    html`<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<title>${title} · ${brand.name}</title>
<style>${raw(styles(brand.accent))}</style>
</head>
<body>
<a class="skip" href="#content">${m.skipToContent}</a>
<header class="topbar"><div class="topbar-inner">
<div class="brand"><span class="mark" aria-hidden="true">${brand.name.charAt(0).toUpperCase()}</span><span>${brand.name}</span></div>
${languages}
</div></header>
${body}
<footer><span>${m.personalLink}</span><span>${m.poweredBy}</span></footer>
</body>
</html>`.text
  }`;
}

export interface PreferencesPageInput {
  /** The interface language. */
  locale: Locale;
  /** The language of the catalog texts (one of `catalog.locales`); a text without it shows the default locale's. */
  catalogLocale: string;
  brand: Brand;
  catalog: Catalog;
  /** Purpose id -> the systems that receive its data (`recipientsByPurpose`). */
  recipients: Readonly<Record<string, readonly Recipient[]>>;
  profile: Profile;
  /** Decides which of the person's e-mail addresses is the primary one, the one shown. */
  policy: MergePolicy;
  /** purpose -> channel -> why the effective state is what it is. */
  reasons: Record<string, Record<string, EffectiveConsentReason>>;
  formAction: string;
  csrfToken: string;
  status?: 'saved' | 'unchanged';
  switchUrl: (locale: string) => string;
  /** The rights section with working actions (privacy/ configured); otherwise they show as unavailable. */
  rights?: Html;
}

function blockedNote(m: Messages, reason: EffectiveConsentReason | undefined): string | undefined {
  if (reason === 'restricted') return m.blockedRestricted;
  if (reason === 'objection') return m.blockedObjection;
  return undefined;
}

/** Reads catalog texts in the page's language; a text in another language carries its own `lang`. */
type Say = (text: LocalizedText) => Html;

function sayer(input: PreferencesPageInput): Say {
  return (text) => {
    const shown = textIn(text, input.catalogLocale, input.catalog.defaultLocale);
    return shown.locale === input.locale ? html`${shown.text}` : html`<span lang="${shown.locale}">${shown.text}</span>`;
  };
}

function consentSection(input: PreferencesPageInput, m: Messages, say: Say): Html {
  const { catalog, profile, reasons } = input;
  return html`<section class="card" aria-labelledby="consents-heading">
<h2 id="consents-heading">${m.consentsHeading}</h2>
<p class="hint">${m.consentsHint}</p>
${Object.entries(catalog.purposes).map(([purposeId, purpose]) => {
  const notes = new Set<string>();
  const toggles = purpose.channels.map((channel) => {
    const id = `consent-${purposeId}-${channel}`;
    const reason = reasons[purposeId]?.[channel];
    const note = blockedNote(m, reason);
    if (note) notes.add(note);
    if (reason === 'expired') notes.add(m.blockedExpired);
    const checked = reason === 'consent' && profile.consents[purposeId]?.[channel]?.value === 'granted';
    const channelTitle = catalog.channels[channel]?.title;
    const title = channelTitle === undefined ? channel : say(channelTitle);
    return html`<label class="toggle${note ? ' blocked' : ''}" for="${id}">
<input type="checkbox" role="switch" id="${id}" name="consent" value="${purposeId}.${channel}"${raw(checked ? ' checked' : '')}${raw(note ? ' disabled' : '')}>
<span>${title}</span></label>`;
  });
  const notice = noticeIn(purpose.notice, input.catalogLocale, catalog.defaultLocale);
  return html`<div class="purpose"><fieldset>
<legend>${say(purpose.title)}</legend>
${purpose.description ? html`<p class="desc">${say(purpose.description)}</p>` : ''}
<div class="notice"><span${notice.locale === input.locale ? '' : html` lang="${notice.locale}"`}>${notice.text}</span><small>${m.noticeVersion(notice.version)}</small></div>
<div class="options">${toggles}${[...notes].map((n) => html`<p class="blocked-note">${n}</p>`)}</div>
</fieldset></div>`;
})}
</section>`;
}

function topicsSection(input: PreferencesPageInput, m: Messages, say: Say): Html | '' {
  const topics = Object.entries(input.catalog.topics);
  if (topics.length === 0) return '';
  return html`<section class="card" aria-labelledby="topics-heading">
<h2 id="topics-heading">${m.topicsHeading}</h2>
<p class="hint">${m.topicsHint}</p>
${topics.map(([topicId, topic]) => {
  const id = `topic-${topicId}`;
  const checked = input.profile.subscriptions[topicId]?.value === true;
  return html`<label class="check" for="${id}"><input type="checkbox" id="${id}" name="topic" value="${topicId}"${raw(checked ? ' checked' : '')}>
<span>${say(topic.title)}${topic.description ? html`<small>${say(topic.description)}</small>` : ''}</span></label>`;
})}
</section>`;
}

/** A system's name: its display name, else its instance id (with its type when that differs). */
function recipientName(recipient: Recipient, say: Say): Html {
  if (recipient.displayName !== undefined) return say(recipient.displayName);
  return recipient.id === recipient.type ? html`${recipient.id}` : html`${recipient.id} (${recipient.type})`;
}

/** Per purpose: why the data is collected, the legal basis, the systems that receive it, how long it is kept. */
function transparencySection(input: PreferencesPageInput, m: Messages, say: Say): Html {
  return html`<section class="card" aria-labelledby="transparency-heading">
<h2 id="transparency-heading">${m.transparencyHeading}</h2>
<p class="hint">${m.transparencyHint}</p>
${Object.entries(input.catalog.purposes).map(([purposeId, purpose]) => {
  const recipients = input.recipients[purposeId] ?? [];
  return html`<div class="purpose" id="transparency-${purposeId}">
<h3>${say(purpose.title)}</h3>
<dl class="facts">
<dt>${m.transparencyWhy}</dt><dd>${say(purpose.purpose ?? purpose.description ?? purpose.notice.text)}</dd>
<dt>${m.transparencyLegalBasis}</dt><dd>${m.legalBases[purpose.defaultLegalBasis]}</dd>
<dt>${m.transparencyRecipients}</dt><dd>${
    recipients.length === 0
      ? m.noRecipients
      : html`<ul class="systems">${recipients.map((r) => html`<li>${recipientName(r, say)}</li>`)}</ul>`
  }</dd>
<dt>${m.transparencyRetention}</dt><dd>${purpose.retention ? say(purpose.retention) : m.retentionNotStated}</dd>
</dl>
</div>`;
})}
</section>`;
}

function rightsSection(m: Messages, brand: Brand): Html {
  const order = ['download', 'restrict', 'objectMarketing', 'objectProfiling', 'erase'] as const;
  return html`<section class="card" aria-labelledby="rights-heading">
<h2 id="rights-heading">${m.rightsHeading}</h2>
<p class="hint">${m.rightsIntro}</p>
<ul class="rights">${order.map((key) => {
    const right = m.rights[key];
    return html`<li><div><h3>${right.title}</h3><p>${right.text}</p></div>
<div class="side"><button type="button" class="ghost" disabled aria-describedby="rights-note">${right.action}</button><span class="badge">${m.unavailable}</span></div></li>`;
  })}</ul>
<p class="note" id="rights-note">${m.unavailableNote(brand.supportEmail)}</p>
</section>`;
}

export function renderPreferencesPage(input: PreferencesPageInput): string {
  const m = MESSAGES[input.locale];
  const say = sayer(input);
  const email = primaryIdentity(input.profile.identities, { kind: 'email' }, input.policy)?.value;
  const firstName = input.profile.attributes['firstName']?.value;
  const banner =
    input.status === 'saved'
      ? html`<div class="banner ok" role="status">${m.saved}</div>`
      : input.status === 'unchanged'
        ? html`<div class="banner info" role="status">${m.unchanged}</div>`
        : '';
  const body = html`<main id="content">
<h1>${m.heading}</h1>
<p class="lead">${m.intro(input.brand.name)}</p>
${
  email || typeof firstName === 'string'
    ? html`<p class="who">${m.preferencesFor} <strong>${typeof firstName === 'string' ? firstName : ''}${typeof firstName === 'string' && email ? ' · ' : ''}${email ? maskEmail(email) : ''}</strong></p>`
    : ''
}
${banner}
<form method="post" action="${input.formAction}">
<input type="hidden" name="_csrf" value="${input.csrfToken}">
<input type="hidden" name="_locale" value="${input.catalogLocale}">
${consentSection(input, m, say)}
${topicsSection(input, m, say)}
<div class="actions"><p>${m.saveHint}</p><button type="submit" class="button">${m.save}</button></div>
</form>
${transparencySection(input, m, say)}
${input.rights ?? rightsSection(m, input.brand)}
</main>`;
  return layout({
    locale: input.locale,
    brand: input.brand,
    title: m.pageTitle,
    switchUrl: input.switchUrl,
    languages: { available: input.catalog.locales, current: input.catalogLocale },
    body,
  });
}

export function renderErrorPage(input: { locale: Locale; brand: Brand; kind: 'forbidden' | 'session'; retryUrl?: string }): string {
  const m = MESSAGES[input.locale];
  const [title, text] = input.kind === 'forbidden' ? [m.forbiddenTitle, m.forbiddenText] : [m.expiredSessionTitle, m.expiredSessionText];
  const body = html`<main id="content"><section class="card error-card">
<div class="icon" aria-hidden="true">!</div>
<h1>${title}</h1>
<p class="lead">${text}</p>
${input.kind === 'forbidden' ? html`<p>${m.forbiddenHelp(input.brand.supportEmail)}</p>` : ''}
${input.kind === 'session' && input.retryUrl ? html`<p><a class="button" href="${input.retryUrl}">${m.reload}</a></p>` : ''}
</section></main>`;
  return layout({ locale: input.locale, brand: input.brand, title, body });
}
