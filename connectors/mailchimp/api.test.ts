import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, RateLimitedError, RejectedError, TransientError } from '../../src/connector/errors.js';
import { MailchimpApi, permanentMemberCode } from './api.js';
import { MailchimpConfig } from './config.js';

const servers: FastifyInstance[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function serve(setup: (app: FastifyInstance) => void): Promise<string> {
  const app = Fastify();
  setup(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app);
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return `http://127.0.0.1:${port}/3.0`;
}

function apiFor(baseUrl: string, extra: Partial<MailchimpConfig> = {}, apiKey = 'secret-key-us9'): MailchimpApi {
  const config = MailchimpConfig.parse({ apiKey, baseUrl, listId: 'list1', webhookSecret: 's'.repeat(32), ...extra });
  return new MailchimpApi(config, { instanceId: 'mc' });
}

function problem(title: string, detail: string, status = 400) {
  return { type: 'https://mailchimp.com/developer/marketing/docs/errors/', title, status, detail, instance: 'e1c8-…' };
}

describe('MailchimpApi', () => {
  it('sends Basic auth with the API key as password', async () => {
    let auth: string | undefined;
    const url = await serve((app) =>
      app.get('/3.0/ping', async (req) => {
        auth = req.headers.authorization;
        return { health_status: "Everything's Chimpy!" };
      }),
    );
    const res = await apiFor(url).request<{ health_status: string }>('GET', '/ping');
    expect(res.data.health_status).toBe("Everything's Chimpy!");
    expect(auth).toBe(`Basic ${Buffer.from('concord:secret-key-us9').toString('base64')}`);
  });

  it('never has more than maxInFlight requests in flight for one key, across instances', async () => {
    let inFlight = 0;
    let peak = 0;
    let received = 0;
    let held: (() => void)[] = [];
    const TOTAL = 50;
    const url = await serve((app) =>
      // Each request is held until ten are in flight (or every request has arrived): an eleventh would show.
      app.get('/3.0/lists/list1/members/:id', async (req) => {
        inFlight += 1;
        received += 1;
        peak = Math.max(peak, inFlight);
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length >= 10 || received === TOTAL) {
            const release = held;
            held = [];
            for (const r of release) r();
          }
        });
        inFlight -= 1;
        return { contact_id: (req.params as { id: string }).id, email_address: 'x@example.com', status: 'subscribed' };
      }),
    );
    const a = apiFor(url);
    const b = apiFor(url);
    const calls = Array.from({ length: TOTAL }, (_, i) => (i % 2 === 0 ? a : b).request('GET', `/lists/list1/members/m${i}`));
    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(TOTAL);
    expect(peak).toBe(10);
    expect(a.gate).toBe(b.gate);
    expect(a.gate.peak).toBe(10);
  });

  it('a lower maxInFlight of any instance with the key lowers the ceiling for all', async () => {
    let inFlight = 0;
    let peak = 0;
    let received = 0;
    let held: (() => void)[] = [];
    const url = await serve((app) =>
      app.get('/3.0/x', async () => {
        inFlight += 1;
        received += 1;
        peak = Math.max(peak, inFlight);
        await new Promise<void>((resolve) => {
          held.push(resolve);
          if (held.length >= 3 || received === 12) {
            const release = held;
            held = [];
            for (const r of release) r();
          }
        });
        inFlight -= 1;
        return {};
      }),
    );
    const a = apiFor(url, {}, 'other-key-us9');
    const b = apiFor(url, { maxInFlight: 3 }, 'other-key-us9');
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? a : b).request('GET', '/x')));
    expect(peak).toBe(3);
  });

  it('a 429 gives a RateLimitedError with the Retry-After wait, and blocks the key until then', async () => {
    let calls = 0;
    const url = await serve((app) =>
      app.get('/3.0/x', async (_req, reply) => {
        calls += 1;
        if (calls === 1) {
          return reply
            .code(429)
            .header('retry-after', '3')
            .type('application/problem+json')
            .send(problem('Too Many Requests', 'You have exceeded the limit of 10 simultaneous connections.', 429));
        }
        return {};
      }),
    );
    const api = apiFor(url);
    const err = await api.request('GET', '/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(3000);
    // Blocked: the next call does not reach Mailchimp at all.
    const again = await api.request('GET', '/x').catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RateLimitedError);
    expect(calls).toBe(1);
    api.unpark();
    await expect(api.request('GET', '/x')).resolves.toMatchObject({ status: 200 });
    expect(calls).toBe(2);
  });

  it('retries an idempotent call after a 5xx, never a POST', async () => {
    let gets = 0;
    let posts = 0;
    const url = await serve((app) => {
      app.get('/3.0/x', async (_req, reply) => {
        gets += 1;
        return gets === 1 ? reply.code(503).send(problem('Service Unavailable', 'try later', 503)) : { ok: true };
      });
      app.post('/3.0/x', async (_req, reply) => {
        posts += 1;
        return reply.code(500).send(problem('Internal Server Error', 'boom', 500));
      });
    });
    const api = apiFor(url);
    await expect(api.request('GET', '/x')).resolves.toMatchObject({ data: { ok: true } });
    expect(gets).toBe(2);
    await expect(api.request('POST', '/x', { data: {} })).rejects.toBeInstanceOf(TransientError);
    expect(posts).toBe(1);
  });

  it('classifies problem+json refusals: the known per-record ones by title or detail, e-mail addresses removed', async () => {
    const answers: Record<string, [number, object]> = {
      compliance: [
        400,
        problem(
          'Member In Compliance State',
          'ada@example.com is already a list member in compliance state due to unsubscribe, bounce, or compliance review.',
        ),
      ],
      forgotten: [
        400,
        problem(
          'Forgotten Email Not Subscribed',
          'ada@example.com was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.',
        ),
      ],
      signups: [
        400,
        problem(
          'Invalid Resource',
          "ada@example.com has signed up to a lot of lists very recently; we're not allowing more signups for now",
        ),
      ],
      invalid: [400, problem('Invalid Resource', 'Please provide a valid email address.')],
      missing: [404, problem('Resource Not Found', 'The requested resource could not be found.', 404)],
      auth: [401, problem('API Key Invalid', 'Your API key may be invalid, or you’ve attempted to access the wrong datacenter.', 401)],
    };
    const url = await serve((app) =>
      app.put('/3.0/:case', async (req, reply) => {
        const [status, body] = answers[(req.params as { case: string }).case] ?? [500, {}];
        return reply.code(status).type('application/problem+json').send(body);
      }),
    );
    const api = apiFor(url);
    const fail = (c: string) => api.request('PUT', `/${c}`, { data: {}, idempotent: false }).catch((e: unknown) => e);
    const compliance = await fail('compliance');
    expect(compliance).toBeInstanceOf(RejectedError);
    expect((compliance as RejectedError).reasonCode).toBe('compliance_state');
    expect((compliance as Error).message).not.toContain('ada@example.com');
    expect(permanentMemberCode(compliance)).toBe('compliance_state');
    expect(permanentMemberCode(await fail('forgotten'))).toBe('forgotten_email');
    expect(permanentMemberCode(await fail('signups'))).toBe('too_many_signups');
    expect(permanentMemberCode(await fail('invalid'))).toBe('invalid_member');
    expect(permanentMemberCode(await fail('missing'))).toBe('member_not_found');
    const auth = await fail('auth');
    expect(auth).toBeInstanceOf(AuthError);
    expect(permanentMemberCode(auth)).toBeUndefined();
  });
});
