/**
 * One client floods the Salesforce Outbound Message endpoint while another asks `/healthz`
 * (issue 15): how much a refused request costs the hub, and what the flood does to everyone
 * else. The hub (server, engine, both emulators; `harness/salesforce-hub.ts`) runs in
 * this process; the flood comes from an autocannon process of its own (`--connections`, 4 by
 * default, from one address, the per-sender webhook rate limit off), and `/healthz` is asked
 * one request after the other from here. For each body it prints requests refused per second,
 * the answers' statuses, `/healthz` p50 and p99, and the hub process's CPU per flood request
 * (its CPU over the run, less what it spends idle, over the requests answered).
 *
 *   npx tsx scripts/flood-salesforce.ts [--seconds 10] [--connections 4]
 *
 * Needs Redis (`bash scripts/services.sh`). Prints figures; asserts nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notificationsEnvelope } from '../connectors/salesforce/emulator/index.js';
import { OUTBOUND_LIMITS } from '../connectors/salesforce/webhook.js';
import { SF_ORG, startCrmHub } from '../harness/salesforce-hub.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const seconds = Number(arg('seconds', '10'));
const connections = Number(arg('connections', '4'));
const MAX = OUTBOUND_LIMITS.maxBytes;

const OPEN =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">';
const CLOSE = '</notifications></soapenv:Body></soapenv:Envelope>';
const attributes = (n: number): string => Array.from({ length: n }, (_, i) => `a${i}="1"`).join(' ');

/** The largest well-formed message the limits let through (100 notifications of 24 fields), from another org: read to the end, then refused. */
function wideMessage(): string {
  const record: Record<string, string> = { Id: '0035e0000000001AAA' };
  for (let f = 0; f < 24; f++) record[`Field${f}__c`] = 'a value of about forty characters &<>"\'.....';
  return notificationsEnvelope({
    organizationId: '00D5e000000OthrAAA',
    actionId: '04k5e0000000001AAA',
    baseUrl: 'https://forger.example',
    apiVersion: '62.0',
    object: 'Contact',
    notifications: Array.from({ length: 100 }, (_, i) => ({ id: `04l5e0000${String(i).padStart(6, '0')}AAA`, record })),
  });
}

const hub = await startCrmHub({ dialect: 'sqlite' });
const dir = mkdtempSync(join(tmpdir(), 'flood-sf-'));
const valid = hub.outboundUrl;
const wrong = `${hub.url}/webhooks/salesforce/${'x'.repeat(43)}`;
const floods: { label: string; url: string; body: string }[] = [
  { label: 'no flood', url: '', body: '' },
  {
    label: `wrong URL token, ${Math.round(MAX / 1024)} KiB body of attributes`,
    url: wrong,
    body: `${OPEN.slice(0, -1)} ${attributes(40_000)}>${CLOSE}`.slice(0, MAX),
  },
  {
    label: 'valid token, 1 MB of 100,000 attributes (over the size limit)',
    url: valid,
    body: `${OPEN.slice(0, -1)} ${attributes(100_000)}>${CLOSE}`,
  },
  {
    label: `valid token, ${Math.round(MAX / 1024)} KiB attribute bomb`,
    url: valid,
    body: `${OPEN.slice(0, -1)} ${attributes(40_000)}>${CLOSE}`.slice(0, MAX),
  },
  { label: 'valid token, 130,000 sibling elements', url: valid, body: `${OPEN}${'<x/>'.repeat(130_000)}${CLOSE}`.slice(0, MAX) },
  {
    label: 'valid token, entity references everywhere',
    url: valid,
    body: `${OPEN}<OrganizationId>${SF_ORG}</OrganizationId><x>${'&amp;&#64;&#x41;'.repeat(30_000)}</x>${CLOSE}`.slice(0, MAX),
  },
  {
    label: `valid token, largest well-formed message (${Math.round(wideMessage().length / 1024)} KiB), another org`,
    url: valid,
    body: wideMessage(),
  },
];

interface Cannon {
  requests: { total: number };
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}

function flood(url: string, body: string): Promise<Cannon> {
  const file = join(dir, 'body.xml');
  writeFileSync(file, body);
  const bin = join(process.cwd(), 'node_modules/.bin/autocannon');
  const args = [
    '-j',
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-m',
    'POST',
    '-H',
    'content-type=text/xml; charset=utf-8',
    '-H',
    'soapaction=""',
    '-i',
    file,
    url,
  ];
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout) as Cannon),
    );
  });
}

async function healthz(until: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!until()) {
    const started = performance.now();
    await fetch(`${hub.url}/healthz`).then((r) => r.arrayBuffer());
    times.push(performance.now() - started);
    await sleep(20);
  }
  return times.sort((a, b) => a - b);
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

let idleCpuPerSecond = 0;
try {
  console.log(`flood: ${connections} connections from one client for ${seconds} s each; /healthz asked one after the other`);
  for (const { label, url, body } of floods) {
    const cpu0 = cpuMs();
    const t0 = performance.now();
    let done = false;
    const run = url ? flood(url, body) : sleep(seconds * 1000, undefined);
    const probe = healthz(() => done);
    const result = await run;
    done = true;
    const times = await probe;
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = cpuMs() - cpu0;
    if (!result) {
      idleCpuPerSecond = cpu / elapsed;
      console.log(
        `\n${label}: /healthz p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms (${times.length} asked); hub CPU ${idleCpuPerSecond.toFixed(0)} ms/s idle`,
      );
      continue;
    }
    const statuses = Object.entries(result.statusCodeStats ?? {})
      .map(([code, s]) => `${code}: ${s.count}`)
      .join(', ');
    const perRequest = (cpu - idleCpuPerSecond * elapsed) / Math.max(1, result.requests.total);
    console.log(`\n${label}:`);
    console.log(`  ${result.requests.total} requests (${(result.requests.total / seconds).toFixed(0)}/s), answers ${statuses}`);
    console.log(
      `  /healthz p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms (${times.length} asked)`,
    );
    console.log(`  hub CPU per flood request: ${perRequest.toFixed(2)} ms (HTTP, body and refusal together)`);
  }
} finally {
  await hub.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
