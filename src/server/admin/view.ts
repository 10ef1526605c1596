/**
 * The operations page (/admin): server-rendered HTML, no script, no remote resource; its one
 * `<style>` is allowed by its hash in the page's own CSP (`ADMIN_PAGE_CSP`). Per connector: its
 * state (last pull, lag, queue depths, dead letters, park, budget), the last errors, the
 * recent runs, and a chart of changes per minute in and out over the last hour.
 */
import { createHash } from 'node:crypto';
import type { ConnectorReport } from '../../sync/index.js';
import { html, raw } from '../html.js';
import type { Html } from '../html.js';
import { changesChart } from './chart.js';
import type { ChartPoint } from './chart.js';

const STYLE = `:root{color-scheme:light;--ink:#1c2430;--muted:#5a6472;--line:#dde2e8;--accent:#1f5f8b;--ok:#1b6e3a;--warn:#8a5a00;--bad:#a1262b}
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f6f7f9}
header{background:#fff;border-bottom:1px solid var(--line);padding:16px 32px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:baseline}
h1{margin:0;font-size:1.4rem}nav a{margin-right:16px}a{color:var(--accent)}main{max-width:1180px;margin:0 auto;padding:16px 32px}
section.connector{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:16px 0}
h2{margin:0 0 8px;font-size:1.2rem}h3{font-size:1rem;margin:16px 0 6px}.muted{color:var(--muted)}
.cols{display:flex;flex-wrap:wrap;gap:16px 32px}.cols>*{flex:1 1 420px;min-width:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-top:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;border-radius:4px;padding:0 8px;font-size:.85rem;font-weight:600;color:#fff;background:var(--ok)}
.state.warn{background:var(--warn)}.state.bad{background:var(--bad)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
.chart{max-width:100%;height:auto;background:#fbfcfd;border:1px solid var(--line);border-radius:4px}
.chart .axis{stroke:#8a94a3}.chart .grid{stroke:var(--line);stroke-dasharray:4 4}.chart .label{font-size:11px;fill:var(--muted)}
.chart .series-in{stroke:#1f5f8b;stroke-width:2}.chart .series-out{stroke:#c0601a;stroke-width:2;stroke-dasharray:6 3}
.legend{margin:4px 0 0;font-size:.9rem}.key-in{color:#1f5f8b;font-weight:600}.key-out{color:#a3490f;font-weight:600}
ul.errors{margin:0;padding-left:20px}`;

/** The page's Content-Security-Policy: nothing but its own style (by hash); no script, no request to anywhere. */
export const ADMIN_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** A run as the page lists it (pull, push batch, backfill...). */
export interface RunView {
  kind: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  counts: Readonly<Record<string, number>>;
  error: string | null;
}

/** A dead letter as the page lists it (no personal data: the profile id and the system's reason). */
export interface DeadLetterView {
  profileId: string;
  kind: string;
  code?: string | undefined;
  reason: string;
  at: string;
}

export interface ConnectorPageData {
  id: string;
  type: string;
  displayName: string | null;
  capabilities: { pull: boolean; push: boolean; webhooks: boolean };
  schedule: { every: number } | { cron: string } | null;
  report: ConnectorReport;
  /** The newest dead letters first (a few). */
  deadLetters: readonly DeadLetterView[];
  /** The newest runs first; null when the hub keeps no run history. */
  runs: readonly RunView[] | null;
  /** Changes per minute over the last hour, oldest first. */
  perMinute: readonly ChartPoint[];
}

export interface AdminPageData {
  now: number;
  connectors: readonly ConnectorPageData[];
  links: { queueBoard: string | null; apiDocs: string };
}

/** `2026-12-05 21:30:12 UTC` */
function instant(iso: string | number): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A duration in words: `42 s`, `3 min 5 s`, `2 h 4 min`, `3 d 2 h`. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h} h` : `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function time(iso: string | number, now: number): Html {
  const at = new Date(iso).getTime();
  const ago = now - at;
  return html`<time datetime="${new Date(at).toISOString()}">${instant(at)}</time> <span class="muted">(${
    ago >= 0 ? `${duration(ago)} ago` : `in ${duration(-ago)}`
  })</span>`;
}

/** Seconds since the last pull that read everything, or null. */
export function pullLagMs(report: ConnectorReport, now: number): number | null {
  const last = report.lastPull;
  const at = last?.succeededAt ?? (last?.error === null ? last.finishedAt : undefined);
  return at === undefined ? null : Math.max(0, now - Date.parse(at));
}

/** The connector's state in a word, and how bad it is. */
export function connectorState(report: ConnectorReport): { text: string; level: 'ok' | 'warn' | 'bad' } {
  if (report.budget.blockedForMs > 0) return { text: 'parked', level: 'bad' };
  if (report.lastPull?.error) return { text: 'pull failing', level: 'bad' };
  if ((report.profiles?.dead ?? 0) > 0) return { text: 'dead letters', level: 'warn' };
  return { text: 'ok', level: 'ok' };
}

function schedule(s: ConnectorPageData['schedule']): string {
  if (s === null) return 'not scheduled';
  return 'every' in s ? `every ${duration(s.every)}` : `cron ${s.cron}`;
}

function stateList(c: ConnectorPageData, now: number): Html {
  const r = c.report;
  const lag = pullLagMs(r, now);
  const p = r.profiles;
  return html`<dl>
<dt>State</dt><dd><span class="state ${connectorState(r).level}">${connectorState(r).text}</span></dd>
${
  c.capabilities.pull
    ? html`<dt>Last pull</dt><dd>${
        r.lastPull
          ? html`${time(r.lastPull.finishedAt, now)}, ${r.lastPull.records} records in ${r.lastPull.pages} pages${r.lastPull.error ? ', failed' : ''}`
          : 'none yet'
      }</dd>
<dt>Pull lag</dt><dd>${lag === null ? 'no complete pull yet' : duration(lag)} <span class="muted">(${schedule(c.schedule)})</span></dd>`
    : ''
}
${
  p
    ? html`<dt>Profiles to push</dt><dd>${p.dirty} waiting, ${p.inflight} in flight, ${p.retry} retrying${
        p.held > 0 ? html`, ${p.held} to create after the first pull` : ''
      }</dd>
<dt>Dead letters</dt><dd>${p.dead}</dd>`
    : ''
}
<dt>Parked until</dt><dd>${r.budget.blockedForMs > 0 ? time(now + r.budget.blockedForMs, now) : 'not parked'}</dd>
<dt>Call budget</dt><dd>${r.budget.used} of ${r.budget.max} calls used in the current ${duration(r.budget.windowMs)} window</dd>
</dl>`;
}

function queuesTable(r: ConnectorReport): Html {
  if (r.queues.length === 0) return html`<p class="muted">No queues.</p>`;
  return html`<table><thead><tr><th>Queue</th><th class="n">Waiting</th><th class="n">Active</th><th class="n">Delayed</th><th class="n">Failed</th></tr></thead><tbody>${r.queues.map(
    (q) =>
      html`<tr><td><code>${q.queue}</code></td><td class="n">${q.wait}</td><td class="n">${q.active}</td><td class="n">${q.delayed}</td><td class="n">${q.failed}</td></tr>`,
  )}</tbody></table>`;
}

function runsTable(runs: readonly RunView[] | null, now: number): Html {
  if (runs === null) return html`<p class="muted">This hub keeps no run history.</p>`;
  if (runs.length === 0) return html`<p class="muted">No runs yet.</p>`;
  return html`<table class="runs"><thead><tr><th>Run</th><th>Started</th><th>Took</th><th>Status</th><th>Counts</th></tr></thead><tbody>${runs.map(
    (run) =>
      html`<tr><td>${run.kind}</td><td>${time(run.startedAt, now)}</td><td>${
        run.endedAt === null ? 'running' : duration(Date.parse(run.endedAt) - Date.parse(run.startedAt))
      }</td><td>${run.status}${run.error ? html`: <span class="muted">${run.error}</span>` : ''}</td><td>${Object.entries(run.counts)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}</td></tr>`,
  )}</tbody></table>`;
}

function errorsList(c: ConnectorPageData, now: number): Html {
  const items: Html[] = [];
  const pull = c.report.lastPull;
  if (pull?.error)
    items.push(
      html`<li>Last pull, ${time(pull.finishedAt, now)}: <code>${pull.error.code ?? pull.error.name}</code> ${pull.error.message}</li>`,
    );
  for (const run of c.runs ?? [])
    if (run.error !== null) items.push(html`<li>${run.kind} run, ${time(run.startedAt, now)}, ${run.status}: ${run.error}</li>`);
  for (const d of c.deadLetters)
    items.push(
      html`<li>Dead letter, ${time(d.at, now)}: profile <code>${d.profileId}</code> ${d.kind}${d.code ? html` (<code>${d.code}</code>)` : ''}: ${d.reason}</li>`,
    );
  return items.length === 0 ? html`<p class="muted">No errors.</p>` : html`<ul class="errors">${items}</ul>`;
}

/** What the heading adds to the name: the instance id when a display name is shown, and the type when it differs. */
function subtitle(c: ConnectorPageData): string {
  return [...(c.displayName === null ? [] : [c.id]), ...(c.type === c.id ? [] : [c.type])].join(', ');
}

function connectorSection(c: ConnectorPageData, now: number): Html {
  return html`<section class="connector" id="connector-${c.id}" aria-labelledby="connector-${c.id}-name">
<h2 id="connector-${c.id}-name">${c.displayName ?? c.id} <span class="muted">${subtitle(c)}</span></h2>
<div class="cols">
<div>${stateList(c, now)}</div>
<figure>${changesChart(c.id, c.perMinute, `chart-${c.id}`)}</figure>
</div>
<h3>Queues</h3>
${queuesTable(c.report)}
<h3>Last errors</h3>
${errorsList(c, now)}
<h3>Recent runs</h3>
${runsTable(c.runs, now)}
</section>`;
}

function summaryTable(data: AdminPageData): Html {
  return html`<table><thead><tr><th>Connector</th><th>State</th><th>Pull lag</th><th class="n">Waiting</th><th class="n">Dead letters</th><th class="n">Changes in / out (1 h)</th></tr></thead><tbody>${data.connectors.map(
    (c) => {
      const lag = pullLagMs(c.report, data.now);
      const state = connectorState(c.report);
      const totalIn = c.perMinute.reduce((n, p) => n + p.in, 0);
      const totalOut = c.perMinute.reduce((n, p) => n + p.out, 0);
      return html`<tr><td><a href="#connector-${c.id}">${c.id}</a></td><td><span class="state ${state.level}">${state.text}</span></td><td>${
        c.capabilities.pull ? (lag === null ? '–' : duration(lag)) : 'does not pull'
      }</td><td class="n">${c.report.profiles?.dirty ?? '–'}</td><td class="n">${c.report.profiles?.dead ?? '–'}</td><td class="n">${totalIn} / ${totalOut}</td></tr>`;
    },
  )}</tbody></table>`;
}

/** The whole page. */
export function renderAdminPage(data: AdminPageData): string {
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>Concord operations</title><style>${raw(STYLE)}</style></head>
<body><header><h1>Concord operations</h1>
<nav aria-label="Operator tools">${data.links.queueBoard ? html`<a href="${data.links.queueBoard}">Queue board</a>` : ''}<a href="${data.links.apiDocs}">API docs</a><a href="/admin">Refresh</a></nav>
<p class="muted">As of ${instant(data.now)}</p></header>
<main>
<h2>Connectors</h2>
${data.connectors.length === 0 ? html`<p>No connector is configured.</p>` : summaryTable(data)}
${data.connectors.map((c) => connectorSection(c, data.now))}
</main></body></html>`.text
  }`;
}
