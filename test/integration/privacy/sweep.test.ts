/**
 * The safety net: an erasure whose queued work was lost (Redis restarted, say) stays in progress
 * until the sweep finds it and drives it again, and then completes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startPrivacyHub, type PrivacyHub } from '../../../harness/privacy-hub.js';

describe('sweep', () => {
  let hub: PrivacyHub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('re-drives an erasure whose queued work was lost', async () => {
    hub = await startPrivacyHub({ dialect: 'sqlite', privacy: { tuning: { sweepEveryMs: 3_600_000 } } });
    const h = hub;
    h.hubspot.sideDoor.createContact({ email: 'ada@example.com', firstname: 'Ada' });
    await h.settle();
    h.hubspotProxy.fail(/gdpr-delete/);
    const submitted = await h.privacy.submit({ kind: 'erase', subject: { email: 'ada@example.com' } }, { origin: 'api', actor: 'test' });
    if (!submitted.ok) throw submitted.error;
    await h.waitFor(
      submitted.value.id,
      (v) => (v.systems.find((s) => s.connector === 'hubspot')?.attempts ?? 0) >= 1 && v.systems.some((s) => s.error !== null),
    );

    // The work in Redis is lost.
    const prefix = h.engine.prefix;
    await h.engine.connection.del(
      `${prefix}:dsr:erase:waiting:hubspot`,
      `${prefix}:dsr:erase:taken:hubspot`,
      `${prefix}:dsr:erase:retry:hubspot`,
    );
    h.hubspotProxy.recover();
    await sleep(1_500);
    expect((await h.privacy.get(submitted.value.id)).ok && (await h.privacy.get(submitted.value.id))).toMatchObject({
      value: { status: 'in_progress' },
    });

    expect(await h.privacy.sweep()).toMatchObject({ open: 1, redriven: 1 });
    const done = await h.waitFor(submitted.value.id, (v) => v.status === 'completed');
    expect(done.systems.find((s) => s.connector === 'hubspot')).toMatchObject({
      status: 'completed',
      outcome: expect.objectContaining({ outcome: 'erased' }),
    });
    expect(await h.profileByEmail('ada@example.com')).toBeNull();
    // Nothing left to drive.
    expect(await h.privacy.sweep()).toEqual({ open: 0, redriven: 0 });
  });
});
