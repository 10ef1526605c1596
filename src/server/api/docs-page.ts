/** A self-contained HTML page documenting the admin API from its OpenAPI document (no scripts, no CDN). */
import { html, raw } from '../html.js';
import type { Html } from '../html.js';

type Json = Record<string, unknown>;

function asRecord(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const STYLE = `
:root{color-scheme:light;--ink:#1c2430;--muted:#5a6472;--line:#dde2e8;--accent:#1f5f8b}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#f6f7f9}
header{background:#fff;border-bottom:1px solid var(--line);padding:24px 32px}h1{margin:0;font-size:1.5rem}
main{max-width:980px;margin:0 auto;padding:24px 32px}section{margin-bottom:32px}h2{font-size:1.2rem;border-bottom:1px solid var(--line);padding-bottom:4px}
article{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:12px 0}
.method{display:inline-block;min-width:4.5em;font:600 .8rem/1.8 ui-monospace,monospace;text-align:center;border-radius:4px;color:#fff;background:#3b4a5a;margin-right:8px}
.get{background:#1b6e3a}.post{background:#1f5f8b}.patch{background:#7a4d00}.delete{background:#a1262b}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}pre{background:#f1f3f6;padding:12px;border-radius:6px;overflow:auto;max-height:360px}
.scope{font-size:.8rem;color:var(--muted)}table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-top:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
a{color:var(--accent)}`;

export function renderDocsPage(doc: Json): string {
  const info = asRecord(doc['info']);
  const paths = asRecord(doc['paths']);
  const byTag = new Map<string, Html[]>();
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, value] of Object.entries(asRecord(methods))) {
      const op = asRecord(value);
      const tag = str((op['tags'] as unknown[] | undefined)?.[0]) || 'Other';
      const params = (op['parameters'] as Json[] | undefined) ?? [];
      const requestBody = asRecord(asRecord(asRecord(asRecord(op['requestBody'])['content'])['application/json'])['schema']);
      const responses = asRecord(op['responses']);
      const list = byTag.get(tag) ?? [];
      list.push(html`<article id="${str(op['operationId'])}">
  <h3><span class="method ${method}">${method.toUpperCase()}</span><code>${path}</code></h3>
  <p><strong>${str(op['summary'])}</strong>. ${str(op['description'])}</p>
  <p class="scope">Scope: <code>${str(op['x-required-scope'])}</code></p>
  ${
    params.length > 0
      ? html`<table><thead><tr><th>Parameter</th><th>In</th><th>Required</th><th>Description</th></tr></thead><tbody>${params.map(
          (p) =>
            html`<tr><td><code>${str(p['name'])}</code></td><td>${str(p['in'])}</td><td>${p['required'] === true ? 'yes' : 'no'}</td><td>${str(p['description'])}</td></tr>`,
        )}</tbody></table>`
      : ''
  }
  ${requestBody['$ref'] ? html`<p>Request body: <code>${str(requestBody['$ref']).replace('#/components/schemas/', '')}</code></p>` : ''}
  <p>Responses: ${Object.keys(responses).map((code) => html`<code>${code}</code> `)}</p>
</article>`);
      byTag.set(tag, list);
    }
  }
  const schemas = asRecord(asRecord(doc['components'])['schemas']);
  return `<!doctype html>${
    html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${str(info['title'])}</title><style>${raw(STYLE)}</style></head>
<body><header><h1>${str(info['title'])}</h1><p>${str(info['description'])} Machine-readable: <a href="openapi.json">openapi.json</a>.</p></header>
<main>${[...byTag].map(([tag, ops]) => html`<section><h2>${tag}</h2>${ops}</section>`)}
<section><h2>Schemas</h2>${Object.entries(schemas).map(
      ([name, schema]) =>
        html`<details id="schema-${name}"><summary><code>${name}</code></summary><pre>${JSON.stringify(schema, null, 2)}</pre></details>`,
    )}</section></main></body></html>`.text
  }`;
}
