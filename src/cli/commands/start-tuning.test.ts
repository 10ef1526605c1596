import { describe, expect, it } from 'vitest';
import { tuningFromEnv } from './start.js';

describe('CONCORD_ENGINE_TUNING', () => {
  it('is optional', () => {
    expect(tuningFromEnv('')).toEqual({ ok: true, tuning: undefined });
  });

  it('sets engine timings, the others keep their defaults', () => {
    const result = tuningFromEnv('{"inflightLeaseMs":3000}');
    expect(result.ok && result.tuning).toMatchObject({ inflightLeaseMs: 3000, lockDurationMs: 30_000 });
  });

  it('refuses invalid JSON, unknown fields and bad values with a message', () => {
    expect(tuningFromEnv('{')).toEqual({ ok: false, message: 'CONCORD_ENGINE_TUNING is not valid JSON' });
    expect(tuningFromEnv('{"inflightLease":3000}')).toMatchObject({ ok: false, message: expect.stringContaining('inflightLease') });
    expect(tuningFromEnv('{"inflightLeaseMs":-1}')).toMatchObject({ ok: false, message: expect.stringContaining('inflightLeaseMs') });
  });
});
