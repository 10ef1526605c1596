/**
 * The readable form of an export: one self-contained HTML page (server-rendered, every value
 * escaped, no script, no external resource; its one style block is allowed by hash in the page's
 * own Content-Security-Policy, `EXPORT_HTML_CSP`). Sections: the request and controller, the
 * person's identities, profile, consents, subscriptions and rights, the consent receipts, the
 * systems and the records each holds (every field with its label, and the related records), the
 * recipients, the retention, the sync history and the audit history. Pure.
 */
import { createHash } from 'node:crypto';
import type { Json } from '../profile/schema.js';
import { html, raw, type Html } from './html.js';
import type { ExportDocument } from '../privacy/index.js';

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f6}td pre{margin:0;white-space:pre-wrap;word-break:break-word;font:13px ui-monospace,monospace}.muted{color:#666}`;

/** The page's Content-Security-Policy: nothing but its own style block. */
export const EXPORT_HTML_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function value(v: Json | undefined): Html | string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return html`<pre>${JSON.stringify(v, null, 2)}</pre>`;
}

function table(headers: readonly string[], rows: readonly (readonly (Html | string)[])[], empty = 'None.'): Html {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${headers.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`,
  )}</tbody></table>`;
}

function liveSection(doc: ExportDocument): Html {
  if (doc.live === null) return html`<p class="muted">The systems were not read for this export (live records not asked for).</p>`;
  return html`${doc.live.map(
    (l) => html`<h3>${l.connector}</h3>
${l.status === 'read' ? '' : html`<p class="muted">${l.status}${l.error ? `: ${l.error}` : ''}</p>`}
${l.records.map(
  (r) => html`<p>Record <strong>${r.externalId}</strong>, last changed ${r.at}</p>
${table(
  ['Field', 'Label', 'Value'],
  Object.entries(r.fields).map(([name, v]) => [name, r.labels?.[name] ?? '', value(v)]),
  'No field holds a value.',
)}
${
  Object.keys(r.related ?? {}).length > 0
    ? table(
        ['Related records', 'Value'],
        Object.entries(r.related ?? {}).map(([kind, v]) => [kind, value(v)]),
      )
    : ''
}`,
)}`,
  )}`;
}

/** The export as one HTML page. */
export function exportHtml(doc: ExportDocument): string {
  const p = doc.profile;
  const t = doc.retention;
  const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Your data held by ${doc.controller.name}</title><style>${raw(STYLE)}</style></head>
<body><main>
<h1>Your data held by ${doc.controller.name}</h1>
<p>Request ${doc.requestId}, generated ${doc.generatedAt}. Controller: ${doc.controller.name}${doc.controller.email ? ` (${doc.controller.email})` : ''}.
The same data in machine-readable form is in the JSON export (${doc.format}).</p>
<h2>Who you are to us</h2>
${table(
  ['Kind', 'Value', 'Source', 'Set at'],
  doc.subject.identities.map((i) => [i.system ? `${i.kind} (${i.system})` : i.kind, i.value, i.source ?? '', i.at ?? '']),
  'We hold no identity of yours.',
)}
<h2>Your profile</h2>
${
  p
    ? table(
        ['Field', 'Value', 'Source', 'Set at'],
        p.attributes.map((a) => [a.path, value(a.value), a.source, a.at]),
      )
    : html`<p class="muted">We hold no profile of you.</p>`
}
<h2>Your consents</h2>
${table(
  ['Purpose', 'Channel', 'Status', 'Legal basis', 'Source', 'Set at'],
  (p?.consents ?? []).map((c) => [c.purpose, c.channel, c.status, c.legalBasis, c.source, c.at]),
)}
<h2>Your subscriptions and rights</h2>
${table(
  ['Item', 'Value', 'Source', 'Set at'],
  [
    ...(p?.subscriptions ?? []).map((s) => [`subscription: ${s.topic}`, String(s.subscribed), s.source, s.at]),
    ...(p?.rights.restricted
      ? [['restriction of processing', String(p.rights.restricted.value), p.rights.restricted.source, p.rights.restricted.at]]
      : []),
    ...(p?.rights.objections ?? []).map((o) => [`objection: ${o.kind}`, String(o.value), o.source, o.at]),
  ],
)}
<h2>Consent receipts</h2>
${table(
  ['Receipt', 'Purpose', 'Status', 'Method', 'Recorded'],
  doc.consentReceipts.map((c) => [
    c.consentReceiptID,
    c.services.map((s) => `${s.purposes.map((x) => x.purpose).join(', ')} (${s.service})`).join('; '),
    c.concord.status,
    c.collectionMethod,
    c.concord.at,
  ]),
)}
<h2>Systems holding your data</h2>
${table(
  ['System', 'Kind', 'Record id', 'Last sent', 'Values as far as we know'],
  doc.systems.map((s) => [s.connector, s.type ?? '', s.externalId ?? '', s.lastSentAt ?? '', value(s.holds)]),
)}
<h2>What each system holds now</h2>
${liveSection(doc)}
<h2>Recipients</h2>
${table(
  ['System', 'Purposes', 'Data sent', 'Deliveries', 'Last sent'],
  doc.recipients.map((r) => [
    r.connector,
    r.purposes
      .map(
        (x) =>
          `${x.title ?? x.purpose}${x.channels.length > 0 ? ` (${x.channels.join(', ')})` : ''}${x.consentAuthority ? ', may change it' : ''}`,
      )
      .join('; '),
    r.data.join(', '),
    String(r.deliveries),
    r.lastSentAt ?? '',
  ]),
  'We sent your data to no system.',
)}
<h2>How long we keep it</h2>
${
  t
    ? html`<p>This export is kept for download until ${t.export.expiresAt}, then deleted.</p>
<p>${t.rules.length === 0 ? 'No retention rule is configured.' : t.rules.map((r) => `${r.id}: ${r.description}`).join(' ')} ${t.profile}</p>
<p>${t.erasure.keptAfterErasure}</p>`
    : html`<p class="muted">Not stated in this export.</p>`
}
<h2>What we sent where</h2>
${table(
  ['System', 'Record id', 'Sent at', 'Values'],
  doc.syncHistory.map((d) => [d.connector, d.externalId ?? '', d.sentAt, value(d.values)]),
)}
<h2>History</h2>
${table(
  ['At', 'Action', 'Actor', 'Source', 'Changes', 'Reason'],
  doc.history.map((h) => [h.at, h.action, h.actor, h.source ?? '', h.changes.join(' '), h.reason ?? '']),
)}
</main></body></html>
`;
  return page.text;
}
