/**
 * The server's log lines: every line written while serving a request carries fastify's request
 * id (`reqId`), webhook refusals included, and so do the lines the engine writes for it; no line
 * carries the personal data of the body.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signMemoryWebhook } from '../../../connectors/memory/signature.js';
import { WEBHOOK_SECRET } from '../../../harness/sync-hub.js';
import { createLogger } from '../../../src/log/logger.js';
import { startServerHub } from './harness.js';
import type { ServerHub } from './harness.js';

describe('HTTP log lines', () => {
  let s: ServerHub | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('carry a request id on every line written for a request', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    s = await startServerHub({ roles: false, logger, server: { logRequests: true } });
    const body = JSON.stringify({
      eventId: 'e1',
      occurredAt: new Date().toISOString(),
      kind: 'changed',
      records: [{ id: 'r1', fields: { email: 'ada@example.com' } }],
    });
    const refused = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: { 'content-type': 'application/json', 'x-memory-signature': 'nope' },
      payload: body,
    });
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect((await s.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    const http = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['component'] === 'http');
    expect(http.map((l) => l['msg'])).toEqual(expect.arrayContaining(['webhook refused', 'request']));
    for (const line of http) expect(line['reqId'], JSON.stringify(line)).toEqual(expect.any(String));
    // The refusal and the request line of one request share its id.
    const refusal = http.find((l) => l['msg'] === 'webhook refused');
    expect(http.filter((l) => l['reqId'] === refusal?.['reqId']).map((l) => l['msg'])).toEqual(['webhook refused', 'request']);
    expect(lines.join('\n')).not.toContain('ada@example.com');
    // The answer names the request's id, a random one (not a counter, not the client's).
    expect(refused.headers['x-request-id']).toBe(refusal?.['reqId']);
    expect(refusal?.['reqId']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    const spoofed = await s.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'forged', 'request-id': 'forged' } });
    expect(spoofed.headers['x-request-id']).not.toBe('forged');
  });
  it('carry the request id on the lines the engine writes while it serves the request, and not after', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    s = await startServerHub({ roles: false, logger, server: { logRequests: true } });
    // A deletion: the engine does not handle it itself and says so (no privacy service here).
    const body = JSON.stringify({ eventId: 'd1', occurredAt: new Date().toISOString(), kind: 'deleted', ids: ['r1'] });
    const accepted = await s.app.inject({
      method: 'POST',
      url: '/webhooks/crm',
      headers: { 'content-type': 'application/json', 'x-memory-signature': signMemoryWebhook(WEBHOOK_SECRET, body, Date.now()) },
      payload: body,
    });
    expect(accepted.statusCode).toBe(200);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const engineLine = parsed.find((l) => l['msg'] === 'webhook event not handled by sync');
    expect(engineLine?.['component']).toBeUndefined();
    expect(engineLine?.['reqId']).toBe(accepted.headers['x-request-id']);
    // One reqId per line: the request's own logger binds it, and is not given a second one.
    for (const line of lines.filter((l) => l.includes('"reqId"'))) expect(line.split('"reqId"').length, line).toBe(2);
    // Outside a request, the engine's lines carry none.
    logger.info('after the request');
    expect(JSON.parse(lines.at(-1) ?? '{}')).not.toHaveProperty('reqId');
  });
});
