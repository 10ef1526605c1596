/**
 * Webhooks of one record ingested out of order (two hub processes each taking one, or a system
 * that does not deliver in order): an older record must not bring back a value a newer record
 * of the same system has replaced, even when the newer one left that field as the shadow held it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { WebhookDelivery } from '../../../connectors/memory/index.js';
import { TEST_DIALECTS } from '../../../harness/db.js';
import { deliverWebhook, startHub } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

describe.each(TEST_DIALECTS)('records ingested out of order (%s)', (dialect) => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });

  it('an older record ingested after a newer one does not set its value over the newer one (nor is it pushed alone)', async () => {
    hub = await startHub({ dialect, systems: [{ id: 'a', webhooks: false }, { id: 'b' }] });
    const { a, b } = hub.systems as Record<'a' | 'b', NonNullable<Hub['systems'][string]>>;
    const engine = hub.engine;
    const held: WebhookDelivery[] = [];
    a.onWebhook(async (delivery) => {
      held.push(delivery);
    });
    const deliver = async (delivery: WebhookDelivery): Promise<void> => {
      expect((await deliverWebhook(engine, 'a', delivery)).ok).toBe(true);
    };

    a.change({ email: 'ooo@example.com', first_name: 'P0', email_opt_out: false, newsletter: false });
    await a.flushWebhooks();
    for (const d of held.splice(0)) await deliver(d);
    await hub.settle();
    expect(b.get({ email: 'ooo@example.com' })?.fields['email_opt_out']).toBe(false);

    // The person opts out, then back in (and is renamed each time); the webhooks come newest first.
    a.change({ email: 'ooo@example.com', first_name: 'P1', email_opt_out: true });
    await new Promise((resolve) => setTimeout(resolve, 5));
    a.change({ email: 'ooo@example.com', first_name: 'P2', email_opt_out: false });
    await a.flushWebhooks();
    const [older, newer] = held.splice(0);
    if (!older || !newer) throw new Error('two webhooks expected');
    await deliver(newer);
    await hub.settle();
    await deliver(older);
    await hub.settle();

    const [profile] = await hub.profiles();
    expect(profile?.attributes['firstName']?.value).toBe('P2');
    expect(b.get({ email: 'ooo@example.com' })?.fields).toMatchObject({ first_name: 'P2', email_opt_out: false });
  });
});
