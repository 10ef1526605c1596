/**
 * The flat CSV form of an export (RFC 4180): one row per fact, with the columns
 * `section,item,value,source,at,detail`. Sections: request, controller, subject, identity,
 * attribute, consent, subscription, right, consent_receipt, system, system_value, sync (one row per
 * field sent to a system: item `connector.field`, at = when it was sent), history, live (one row
 * per field of each whole record, the system's label in `detail`), live_related (one row per kind
 * of related record, the value as JSON), recipient (one row per purpose a system receives, and
 * one for the data it receives), retention. Pure.
 */
import { stringify } from 'csv-stringify/sync';
import type { Json } from '../../profile/schema.js';
import type { ExportDocument } from './document.js';

export const CSV_COLUMNS = ['section', 'item', 'value', 'source', 'at', 'detail'] as const;

type Row = [section: string, item: string, value: string, source: string, at: string, detail: string];

function text(value: Json | undefined): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** How the export writes CSV: RFC 4180 with CRLF line ends; leading formula characters neutralised for spreadsheets (OWASP CSV injection). */
const OPTIONS = { record_delimiter: 'windows', quote_record_delimiter: true, escape_formulas: true } as const;

/** A CSV field, quoted when it holds a comma, quote, or line break. Leading formula characters are neutralised for spreadsheets. */
export function csvField(value: string): string {
  return stringify([[value]], { ...OPTIONS, eof: false });
}

export function exportRows(doc: ExportDocument): Row[] {
  const rows: Row[] = [['request', 'id', doc.requestId, '', doc.generatedAt, doc.format]];
  rows.push(['controller', 'name', doc.controller.name, '', '', doc.controller.email ?? '']);
  rows.push(['subject', 'profileId', doc.subject.profileId ?? '', '', '', '']);
  for (const i of doc.subject.identities) {
    rows.push(['identity', i.system ? `${i.kind}:${i.system}` : i.kind, i.value, i.source ?? '', i.at ?? '', i.primary ? 'primary' : '']);
  }
  if (doc.profile) {
    for (const a of doc.profile.attributes) rows.push(['attribute', a.path, text(a.value), a.source, a.at, '']);
    for (const c of doc.profile.consents) {
      rows.push([
        'consent',
        `${c.purpose}.${c.channel}`,
        c.status,
        c.source,
        c.at,
        `legalBasis=${c.legalBasis}; method=${c.evidence.method}${c.expiresAt ? `; expiresAt=${c.expiresAt}` : ''}`,
      ]);
    }
    for (const s of doc.profile.subscriptions) rows.push(['subscription', s.topic, String(s.subscribed), s.source, s.at, '']);
    const r = doc.profile.rights;
    if (r.restricted) rows.push(['right', 'restricted', String(r.restricted.value), r.restricted.source, r.restricted.at, '']);
    for (const o of r.objections) rows.push(['right', `objection.${o.kind}`, String(o.value), o.source, o.at, '']);
  }
  for (const c of doc.consentReceipts) {
    const purpose = c.services[0]?.purposes[0];
    rows.push([
      'consent_receipt',
      c.consentReceiptID,
      `${purpose?.purposeCategory.join('|') ?? ''}.${c.services[0]?.service ?? ''}=${c.concord.status}`,
      c.concord.source,
      c.concord.at,
      `accepted=${c.concord.accepted}; legalBasis=${c.concord.legalBasis}; method=${c.collectionMethod}${c.concord.noticeVersion ? `; notice=${c.concord.noticeVersion}` : ''}`,
    ]);
  }
  for (const s of doc.systems) {
    rows.push(['system', s.connector, s.externalId ?? '', s.type ?? '', s.lastSentAt ?? '', `updatedAt=${s.updatedAt}`]);
    for (const [field, value] of Object.entries(s.holds))
      rows.push(['system_value', `${s.connector}.${field}`, text(value), s.connector, s.updatedAt, '']);
  }
  // One row per field sent, so the sync history stays flat: which system, which field, what value, when.
  for (const d of doc.syncHistory) {
    const detail = `externalId=${d.externalId ?? ''}`;
    const fields = Object.entries(d.values);
    if (fields.length === 0) rows.push(['sync', d.connector, '', d.connector, d.sentAt, detail]);
    for (const [field, value] of fields) rows.push(['sync', `${d.connector}.${field}`, text(value), d.connector, d.sentAt, detail]);
  }
  for (const h of doc.history)
    rows.push([
      'history',
      h.action,
      h.changes.join(' '),
      h.source ?? '',
      h.at,
      `actor=${h.actor}${h.reason ? `; reason=${h.reason}` : ''}`,
    ]);
  for (const l of doc.live ?? []) {
    if (l.status !== 'read') rows.push(['live', l.connector, '', l.connector, '', `${l.status}${l.error ? `: ${l.error}` : ''}`]);
    for (const r of l.records) {
      for (const [field, value] of Object.entries(r.fields)) {
        const label = r.labels?.[field];
        rows.push(['live', `${l.connector}.${r.externalId}.${field}`, text(value), l.connector, r.at, label ? `label=${label}` : '']);
      }
      for (const [kind, value] of Object.entries(r.related ?? {}))
        rows.push(['live_related', `${l.connector}.${r.externalId}.${kind}`, text(value), l.connector, r.at, '']);
    }
  }
  for (const r of doc.recipients) {
    const sent = `deliveries=${r.deliveries}; first=${r.firstSentAt ?? ''}`;
    rows.push(['recipient', `${r.connector}.data`, r.data.join(' '), r.type ?? '', r.lastSentAt ?? '', sent]);
    for (const p of r.purposes)
      rows.push([
        'recipient',
        `${r.connector}.purpose.${p.purpose}`,
        p.channels.join(' '),
        r.type ?? '',
        r.lastSentAt ?? '',
        `${p.title ? `title=${p.title}; ` : ''}consentAuthority=${p.consentAuthority}`,
      ]);
  }
  const t = doc.retention;
  if (t) {
    rows.push(['retention', 'export', t.export.expiresAt, '', '', `ttlMs=${t.export.ttlMs}`]);
    rows.push(['retention', 'rules', t.rules.map((r) => r.id).join(' '), '', '', t.rules.length === 0 ? 'none configured' : '']);
    rows.push(['retention', 'profile', t.profile, '', '', '']);
    rows.push([
      'retention',
      'erasure',
      t.erasure.keptAfterErasure,
      '',
      '',
      `verified=${t.erasure.verified}; alwaysErase=${t.erasure.alwaysErase.join(' ')}`,
    ]);
  }
  return rows;
}

/** The export as CSV text (CRLF line ends, a header row), written by `csv-stringify`. */
export function exportCsv(doc: ExportDocument): string {
  return stringify([[...CSV_COLUMNS], ...exportRows(doc)], OPTIONS);
}
