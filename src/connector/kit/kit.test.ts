import { describe, expect, it } from 'vitest';
import type { FindQuery } from '../define.js';
import { chunks } from './chunks.js';
import { FindHits, findIdentities } from './find.js';
import { splitRefs, uniqueBy } from './refs.js';
import { secretsEqual } from './secrets.js';
import { WebhookAcks } from './webhook-acks.js';

describe('WebhookAcks', () => {
  it('drops a redelivery only once its events were acknowledged', () => {
    const acks = new WebhookAcks<number>({ capacity: 10 });
    const delivery = [{ id: 1 }, { id: 2 }];
    expect(acks.fresh(delivery, (d) => d.id)).toHaveLength(2);
    acks.expect('e1', [1, 2]);
    // The enqueue failed: the source retries and the ids are processed again.
    expect(acks.fresh(delivery, (d) => d.id)).toHaveLength(2);
    acks.acknowledge(['e1']);
    expect(acks.fresh(delivery, (d) => d.id)).toEqual([]);
  });

  it('freshEvents: events keyed by their own id, dropped on redelivery once acknowledged', () => {
    const acks = new WebhookAcks<string>({ capacity: 10 });
    const events = [{ eventId: 'a' }, { eventId: 'b' }];
    expect(acks.freshEvents(events)).toEqual(events);
    acks.acknowledge(['a']);
    expect(acks.freshEvents(events)).toEqual([{ eventId: 'b' }]);
  });

  it('handles ids that produced no event at the next acknowledgement', () => {
    const acks = new WebhookAcks<string>({ capacity: 10 });
    acks.expectNoEvent(['n1']);
    expect(acks.fresh(['n1'], (n) => n)).toEqual(['n1']);
    acks.acknowledge([]);
    expect(acks.fresh(['n1'], (n) => n)).toEqual([]);
  });

  it('forgets the oldest pending events and handled ids beyond its bounds', () => {
    const acks = new WebhookAcks<number>({ capacity: 2, maxPending: 1 });
    acks.expect('old', [1]);
    acks.expect('new', [2]);
    acks.acknowledge(['old', 'new']);
    // "old" was forgotten while pending: its id is processed again if redelivered.
    expect(acks.fresh([1, 2], (n) => n)).toEqual([1]);
    acks.expect('a', [3]);
    acks.expect('b', [4]);
    acks.acknowledge(['b']);
    acks.expect('c', [5]);
    acks.acknowledge(['c']);
    // Capacity 2: 2 is the oldest handled id and is forgotten.
    expect(acks.fresh([2, 4, 5], (n) => n)).toEqual([2]);
  });
});

describe('erase and export refs', () => {
  it('reads by id when known, looks up by e-mail otherwise', () => {
    expect(splitRefs([{ externalId: 'a', email: 'x@example.com' }, { email: 'y@example.com' }, {}])).toEqual({
      ids: ['a'],
      emails: ['y@example.com'],
    });
  });

  it('merges lookups, each record once, the first found kept', () => {
    const byId = [{ id: '1', via: 'id' }];
    const byEmail = [
      { id: '2', via: 'email' },
      { id: '1', via: 'email' },
    ];
    expect(uniqueBy([byId, byEmail], (r) => r.id)).toEqual([
      { id: '1', via: 'id' },
      { id: '2', via: 'email' },
    ]);
  });
});

describe('chunks', () => {
  it('splits into parts of at most the size, and refuses a size that would loop for ever', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 3)).toEqual([]);
    expect(() => chunks([1], 0)).toThrow(RangeError);
  });
});

describe('secretsEqual', () => {
  it('is true only for the same secret, whatever the lengths', () => {
    expect(secretsEqual('whsec_abc', 'whsec_abc')).toBe(true);
    expect(secretsEqual('whsec_abc', 'whsec_abd')).toBe(false);
    expect(secretsEqual('whsec_ab', 'whsec_abc')).toBe(false);
    expect(secretsEqual('', 'x')).toBe(false);
  });
});

describe('FindHits', () => {
  const q = (p: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...p });

  it('lists the identities of a batch once, in their compared form', () => {
    expect(
      findIdentities([q({ emails: [' A@x.org'], phones: ['+1 555-0100'] }), q({ emails: ['a@x.org'], externalIds: ['7', ''] })]),
    ).toEqual({
      emails: ['a@x.org'],
      phones: ['+15550100'],
      externalIds: ['7'],
    });
  });

  it('answers each query in input order, each record once with every kind that matched it', () => {
    const hits = new FindHits();
    hits.add('email', 'A@x.org', 'r1');
    hits.add('externalId', 'r1', 'r1');
    hits.add('phone', '+1 (555) 0100', 'r2');
    expect(
      hits.answer([
        q({ phones: ['+15550100'] }),
        q({ emails: ['a@x.org'], externalIds: ['r1'], phones: ['+15550100'] }),
        q({ emails: ['nobody@x.org'] }),
      ]),
    ).toEqual([
      [{ externalId: 'r2', matchedBy: ['phone'] }],
      [
        { externalId: 'r1', matchedBy: ['email', 'externalId'] },
        { externalId: 'r2', matchedBy: ['phone'] },
      ],
      [],
    ]);
  });
});
