import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../src/connector/mapping.js';
import connector from './connector.js';
import { SegmentConfig, segmentHosts } from './config.js';
import { derivedSegmentMappings } from './mapping.js';

const base = { writeKey: 'wk' };

describe('Segment config', () => {
  it('uses the region’s hosts, or one base URL for all three APIs (the emulator)', () => {
    expect(segmentHosts(SegmentConfig.parse(base))).toEqual({
      events: 'https://api.segment.io',
      profiles: 'https://profiles.segment.com',
      publicApi: 'https://api.segmentapis.com',
    });
    expect(segmentHosts(SegmentConfig.parse({ ...base, region: 'eu' }))).toEqual({
      events: 'https://events.eu1.segmentapis.com',
      profiles: 'https://profiles.euw1.segment.com',
      publicApi: 'https://eu1.api.segmentapis.com',
    });
    expect(segmentHosts(SegmentConfig.parse({ ...base, baseUrl: 'http://127.0.0.1:4040/' })).profiles).toBe('http://127.0.0.1:4040');
  });

  it('wants the space and its token together, and one meaning per trait', () => {
    const half = SegmentConfig.safeParse({ ...base, spaceId: 'spa_1' });
    expect(half.success).toBe(false);
    expect(half.error?.issues[0]?.path).toEqual(['profileToken']);
    const twice = SegmentConfig.safeParse({
      ...base,
      subscriptionTraits: [{ trait: 'news', topic: 'newsletter' }],
      consentTraits: [{ trait: 'news', consent: 'marketing.email' }],
    });
    expect(twice.success).toBe(false);
    expect(twice.error?.issues[0]?.path).toEqual(['consentTraits', 0, 'trait']);
    expect(SegmentConfig.safeParse({ ...base, subscriptionTraits: [{ trait: 'consent:Ads', topic: 't' }] }).success).toBe(false);
    expect(SegmentConfig.safeParse({ ...base, unknownKey: 1 }).success).toBe(false);
  });

  it('derives a topic per subscription trait, a withdraw-only consent per consent trait, a push-only consent per category', () => {
    const config = SegmentConfig.parse({
      ...base,
      subscriptionTraits: [{ trait: 'newsletter_subscribed', topic: 'newsletter' }],
      consentTraits: [{ trait: 'email_consent', consent: 'marketing.email' }],
      consentCategories: [{ category: 'Advertising', consent: 'advertising.web' }],
    });
    expect(derivedSegmentMappings(config)).toEqual([
      { path: ['subscriptionTraits', 0, 'topic'], entry: { topic: 'newsletter', external: 'newsletter_subscribed' } },
      { path: ['consentTraits', 0, 'consent'], entry: { consent: 'marketing.email', external: 'email_consent', withdrawOnly: true } },
      {
        path: ['consentCategories', 0, 'consent'],
        entry: { consent: 'advertising.web', external: 'consent:Advertising', direction: 'push' },
      },
    ]);
    // They compile beside the defaults.
    expect(() =>
      compileMapping(
        connector,
        derivedSegmentMappings(config).map((d) => d.entry),
      ),
    ).not.toThrow();
  });
});
