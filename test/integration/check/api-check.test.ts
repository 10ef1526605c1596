/**
 * `POST /api/v1/connectors/{id}/check` on a running hub (real listen) against the emulators: the
 * connector's check lines as JSON, a ✘ naming the key and the fix, and the problems for an unknown
 * connector, a key without the admin scope, and a check repeated within 10 s (429).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS, startOperatorHub, type OperatorHub } from '../operator-hub.js';

interface CheckAnswer {
  connector: string;
  ok: boolean;
  checks: { ok: boolean; neutral?: boolean; detail: string; path?: (string | number)[]; fix?: string }[];
}

describe('POST /api/v1/connectors/{id}/check', () => {
  let op: OperatorHub;
  beforeAll(async () => {
    // The private app lacks the scopes of subscription statuses.
    op = await startOperatorHub({
      mailchimp: true,
      hubspot: { scopes: ['crm.objects.contacts.read', 'crm.objects.contacts.write', 'communication_preferences.read'] },
    });
  }, 60_000);
  afterAll(async () => {
    await op.close();
  });

  it('answers the Salesforce and Mailchimp lines, all ✔, the webhook at the hub included', async () => {
    const sf = await op.api('POST', '/api/v1/connectors/salesforce/check');
    expect(sf.status).toBe(200);
    expect(sf.body).toMatchObject({ connector: 'salesforce', ok: true });
    expect((sf.body as CheckAnswer).checks[0]).toEqual({
      ok: true,
      detail: 'the client credentials are accepted and Contact can be described',
    });
    const mc = await op.api('POST', '/api/v1/connectors/mailchimp/check');
    expect(mc.status).toBe(200);
    const answer = mc.body as CheckAnswer;
    expect(answer.ok).toBe(true);
    expect(answer.checks.at(-1)?.detail).toMatch(
      /^the audience’s webhook points at http:\/\/127\.0\.0\.1:\d+\/webhooks\/mailchimp\/<webhookSecret>/,
    );
  });

  it('answers 429 with Retry-After for a second check of a connector within 10 s, without calling the system', async () => {
    // Salesforce was checked by the test before.
    const calls = op.salesforce.sideDoor.apiUsage().used;
    const res = await fetch(`${op.hub.url ?? ''}/api/v1/connectors/salesforce/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.admin}` },
    });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(await res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect(op.salesforce.sideDoor.apiUsage().used).toBe(calls);
  });

  it('answers ok: false with a ✘ at accessToken naming the missing scopes and the fix (still HTTP 200)', async () => {
    const res = await op.api('POST', '/api/v1/connectors/hubspot/check');
    expect(res.status).toBe(200);
    const answer = res.body as CheckAnswer;
    expect(answer.ok).toBe(false);
    expect(answer.checks.filter((c) => !c.ok)).toEqual([
      {
        ok: false,
        detail: expect.stringContaining('communication_preferences.statuses.batch.write'),
        path: ['accessToken'],
        fix: expect.stringContaining('Private apps'),
      },
    ]);
    expect(answer.checks.some((c) => c.neutral === true)).toBe(true);
  });

  it('answers 404 for an unknown connector and 403 for a key without the admin scope', async () => {
    expect((await op.api('POST', '/api/v1/connectors/nosuch/check')).status).toBe(404);
    expect((await op.api('POST', '/api/v1/connectors/hubspot/check', KEYS.reader)).status).toBe(403);
  });
});
