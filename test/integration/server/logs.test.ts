/**
 * The server's log lines: every line written while serving a request carries fastify's request
 * id (`reqId`), webhook refusals included, and no line carries the personal data of the body.
 */
import { afterEach, describe, expect, it } from 'vitest';
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
    const body = JSON.stringify({ eventId: 'e1', occurredAt: new Date().toISOString(), kind: 'changed', records: [{ id: 'r1', fields: { email: 'ada@example.com' } }] });
    const refused = await s.app.inject({ method: 'POST', url: '/webhooks/crm', headers: { 'content-type': 'application/json', 'x-memory-signature': 'nope' }, payload: body });
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
});
