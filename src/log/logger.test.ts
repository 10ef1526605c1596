import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, REDACTED, redactContacts, requestLogScope, serializeError } from './logger.js';

function capture(level = 'info'): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const logger = createLogger({ level, component: 'test', destination: { write: (line: string) => lines.push(line) } });
  return { lines, logger };
}

describe('createLogger', () => {
  it("censors a connector's sensitive keys it is given, wherever they appear, and only when given", () => {
    const lines: string[] = [];
    const logger = createLogger({ sensitiveKeys: ['x-vendor-signature'], destination: { write: (line: string) => lines.push(line) } });
    logger.info({ 'x-vendor-signature': 'sig-top', headers: { 'x-vendor-signature': 'sig-nested' } }, 'delivery');
    expect(lines.join('\n')).not.toMatch(/sig-top|sig-nested/);
    const { lines: plain, logger: other } = capture();
    other.info({ 'x-vendor-signature': 'sig-top' }, 'delivery');
    expect(plain.join('\n')).toContain('sig-top');
  });

  it('binds the component and writes one JSON line per call', () => {
    const { lines, logger } = capture();
    logger.info({ connector: 'crm', records: 3 }, 'batch pushed');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ component: 'test', connector: 'crm', records: 3, msg: 'batch pushed' });
  });

  it('never writes an e-mail address, phone number, token, secret, cookie or authorization header it was given', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        email: 'ada@example.com',
        phone: '+441234567890',
        token: 'tok-0123456789',
        contact: { email: 'grace@example.com', firstName: 'Grace' },
        config: { clientSecret: 'cs-secret-value', headers: { authorization: 'Bearer abc.def.ghi' } },
        req: { headers: { authorization: 'Basic dXNlcjpwYXNz', cookie: 'session=s3cr3t' } },
        identities: [{ kind: 'email', value: 'alan@example.com' }],
        secret: 'whsec_0123',
        apiKey: 'key-0123',
      },
      'something happened',
    );
    const line = lines.join('\n');
    for (const leaked of [
      'ada@example.com',
      '+441234567890',
      'tok-0123456789',
      'grace@example.com',
      'cs-secret-value',
      'abc.def.ghi',
      'dXNlcjpwYXNz',
      's3cr3t',
      'alan@example.com',
      'whsec_0123',
      'key-0123',
    ]) {
      expect(line).not.toContain(leaked);
    }
    const parsed = JSON.parse(lines[0] ?? '') as Record<string, { firstName?: string } | string>;
    expect(parsed['email']).toBe(REDACTED);
    expect(parsed['contact']).toMatchObject({ email: REDACTED, firstName: 'Grace' });
  });

  it('keeps the redaction in child loggers', () => {
    const { lines, logger } = capture();
    logger.child({ queue: 'push.crm' }).warn({ email: 'ada@example.com' }, 'refused');
    expect(lines.join('')).not.toContain('ada@example.com');
  });

  it("writes errors through one serializer: kind, code, message without e-mail addresses, cause; not the error's other properties", () => {
    const { lines, logger } = capture();
    const cause = new Error('socket hang up');
    const err = Object.assign(new Error('INVALID_EMAIL_ADDRESS: ada@example.com is not valid', { cause }), {
      code: 'rejected',
      status: 400,
      config: { headers: { authorization: 'Bearer leaked' } },
    });
    logger.error({ err }, 'push failed');
    const parsed = JSON.parse(lines[0] ?? '') as { err: Record<string, unknown> };
    expect(parsed.err).toMatchObject({
      type: 'Error',
      code: 'rejected',
      status: 400,
      message: 'INVALID_EMAIL_ADDRESS: <email> is not valid',
      cause: { message: 'socket hang up' },
    });
    expect(lines[0]).not.toContain('ada@example.com');
    expect(lines[0]).not.toContain('leaked');
  });

  it('redacts e-mail addresses in free text, keeping the codes and brackets around them', () => {
    expect(redactContacts('INVALID_EMAIL_ADDRESS: (ada@example.com) and bob@example.org;x')).toBe(
      'INVALID_EMAIL_ADDRESS: (<email>) and <email>;x',
    );
    expect(redactContacts('code:grace@example.com')).toBe('code:<email>');
    expect(
      redactContacts("INVALID_FIELD: WHERE Phone IN ('+15550100123', '+44 20 7946 0958') at 2026-12-05T10:00:00Z, id 0035e00000AbCdE"),
    ).toBe("INVALID_FIELD: WHERE Phone IN ('<phone>', '<phone>') at 2026-12-05T10:00:00Z, id 0035e00000AbCdE");
  });

  it('serializes what is thrown even when it is not an Error', () => {
    expect(serializeError('boom')).toEqual({ type: 'string', message: 'boom' });
  });

  it('writes nothing at level silent', () => {
    const { lines, logger } = capture('silent');
    logger.error('nothing');
    expect(lines).toEqual([]);
  });

  it("gives the lines written inside a request's scope its id, once, and none after the request is answered", async () => {
    const { lines, logger } = capture();
    const scope = requestLogScope('req-1');
    await scope.run(async () => {
      logger.info('engine line');
      logger.child({ reqId: 'req-1' }).info('request line');
      await sleep(1);
      logger.info('after an await');
    });
    const later = scope.run(() => sleep(5).then(() => logger.info('a timer the request left')));
    scope.close();
    await later;
    logger.info('outside');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((l) => [l['msg'], l['reqId']])).toEqual([
      ['engine line', 'req-1'],
      ['request line', 'req-1'],
      ['after an await', 'req-1'],
      ['a timer the request left', undefined],
      ['outside', undefined],
    ]);
    expect(lines[1]?.split('"reqId"')).toHaveLength(2);
  });
});
