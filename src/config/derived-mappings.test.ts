import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { builtinConnectors } from '../../connectors/index.js';
import { defineConnector } from '../connector/define.js';
import type { ConnectorDefinition, DerivedMapping } from '../connector/define.js';
import { MappingEntry } from '../connector/mapping-schema.js';
import type { MappingEntryInput } from '../connector/mapping-schema.js';
import { connectorsFromConfig } from '../sync/from-config.js';
import { mergeDerivedMappings } from './derived-mappings.js';
import { loadConfig, parseConfig } from './load.js';
import type { LoadResult } from './load.js';
import { fakeConnectors, MINIMAL_HUB_YAML, testEnv } from './testing/support.js';

/** A connector whose `lists` and `optOut` keys imply mapping entries, as HubSpot's and Salesforce's do. */
const fakeList = defineConnector({
  type: 'fakelist',
  configSchema: z.object({
    lists: z.array(z.object({ id: z.number().int(), consent: z.string().optional(), topic: z.string().optional() })).default([]),
    optOut: z.record(z.string(), z.string()).default({}),
  }),
  cursorSchema: z.string(),
  capabilities: { pull: true, push: true, webhooks: false, erase: false, export: false, find: false },
  limits: { requestsPerWindow: 10, windowMs: 1_000, maxBatch: 100, concurrency: 1 },
  withdrawOnlyFields: [/^opt_out_/],
  derivedMappings: (config) => [
    ...config.lists.map((l, i): DerivedMapping => ({
      path: ['lists', i, l.consent !== undefined ? 'consent' : 'topic'],
      entry: {
        ...(l.consent !== undefined ? { consent: l.consent } : { topic: l.topic ?? '' }),
        external: `list:${l.id}`,
        transform: [{ type: 'map', values: { true: 'IN', false: 'OUT' } }],
      },
    })),
    ...Object.entries(config.optOut).map(([field, consent]): DerivedMapping => ({
      path: ['optOut', field],
      entry: { consent, external: field, transform: [{ type: 'invert' }], withdrawOnly: true },
    })),
  ],
  create: () => ({}),
});

const connectors: readonly ConnectorDefinition[] = [...fakeConnectors, fakeList];

/** The catalog of the inline files (lines 7-12). */
const CATALOG = `catalog:
  channels: { email: { title: E-mail }, sms: { title: SMS } }
  purposes:
    marketing: { title: Marketing, notice: { text: Offers, version: "1" }, channels: [email] }
  topics: { newsletter: { title: Newsletter } }
`;

/** A file with one `fakelist` instance; its own lines start at 16. */
function file(instance: string): string {
  return `${MINIMAL_HUB_YAML}${CATALOG}connectors:
  list:
    type: fakelist
${instance}`;
}

function load(text: string): LoadResult {
  return parseConfig(text, 'inline.yaml', { connectors, env: testEnv });
}

function mappingsOf(text: string): MappingEntry[] {
  const result = load(text);
  if (!result.ok) throw new Error(`expected a valid config:\n${result.errors.join('\n')}`);
  return result.config.connectors['list']?.mappings ?? [];
}

function errorsOf(text: string): string[] {
  const result = load(text);
  if (result.ok) throw new Error('expected the config to be invalid');
  return result.errors.map(String);
}

const parsed = (entry: MappingEntryInput): MappingEntry => MappingEntry.parse(entry);
const listConsent = parsed({
  consent: 'marketing.email',
  external: 'list:7',
  transform: [{ type: 'map', values: { true: 'IN', false: 'OUT' } }],
});
const listTopic = parsed({ topic: 'newsletter', external: 'list:8', transform: [{ type: 'map', values: { true: 'IN', false: 'OUT' } }] });
const flag = parsed({ consent: 'marketing.email', external: 'opt_out_email', transform: [{ type: 'invert' }], withdrawOnly: true });

describe('derived mapping entries, in the loaded config', () => {
  const derivingInstance = `    lists: [{ id: 7, consent: marketing.email }, { id: 8, topic: newsletter }]
    optOut: { opt_out_email: marketing.email }
`;

  it('come from the connector’s own keys, with nothing under mappings', () => {
    expect(mappingsOf(file(derivingInstance))).toEqual([listConsent, listTopic, flag]);
  });

  it('come first; the YAML entries follow in the order written', () => {
    const own = `${derivingInstance}    mappings:
      - { field: firstName, external: given_name }
      - { consent: marketing.email, external: email_ok, direction: pull }
`;
    expect(mappingsOf(file(own))).toEqual([
      listConsent,
      listTopic,
      flag,
      parsed({ field: 'firstName', external: 'given_name' }),
      parsed({ consent: 'marketing.email', external: 'email_ok', direction: 'pull' }),
    ]);
  });

  it('an old file that repeats them maps exactly as before: each repeat is kept where it is written, the derived one dropped', () => {
    // The flag without `withdrawOnly` says the same: the connector names it an opt-out flag, so
    // it compiles withdraw-only either way. Key order in a map transform does not matter.
    const old = `${derivingInstance}    mappings:
      - { field: firstName, external: given_name }
      - { consent: marketing.email, external: opt_out_email, transform: [{ type: invert }] }
      - { consent: marketing.email, external: "list:7", direction: both, transform: [{ type: map, values: { "false": OUT, "true": IN } }] }
`;
    const mappings = mappingsOf(file(old));
    expect(mappings).toEqual([
      listTopic,
      parsed({ field: 'firstName', external: 'given_name' }),
      parsed({ consent: 'marketing.email', external: 'opt_out_email', transform: [{ type: 'invert' }] }),
      parsed({ consent: 'marketing.email', external: 'list:7', transform: [{ type: 'map', values: { false: 'OUT', true: 'IN' } }] }),
    ]);
  });

  it('a YAML entry for the same target and field that says something else is a mapping_conflict at its file:line:col', () => {
    const conflicting = `${derivingInstance}    mappings:
      - { consent: marketing.email, external: "list:7", direction: pull, transform: [{ type: map, values: { "true": IN, "false": OUT } }] }
      - { consent: marketing.email, external: opt_out_email, transform: [{ type: invert }], withdrawOnly: false }
`;
    const result = load(file(conflicting));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.code)).toEqual(['mapping_conflict', 'mapping_conflict']);
    expect(result.errors.map(String)).toEqual([
      'inline.yaml:19:9: connectors.list.mappings[0]: maps consent:marketing.email <-> "list:7" like the entry connectors.list.lists[0].consent derives, but with another direction (derived: direction "both"); remove this entry, or change connectors.list.lists[0].consent',
      'inline.yaml:20:9: connectors.list.mappings[1]: maps consent:marketing.email <-> "opt_out_email" like the entry connectors.list.optOut.opt_out_email derives, but with another withdrawOnly (derived: withdrawOnly true); remove this entry, or change connectors.list.optOut.opt_out_email',
    ]);
  });

  it('another target on the same external field, or another field for the same target, is no conflict', () => {
    const beside = `${derivingInstance}    mappings:
      - { consent: marketing.email, external: "list:8", direction: pull, transform: [{ type: map, values: { "true": IN, "false": OUT } }] }
      - { consent: marketing.email, external: "list:9", transform: [{ type: map, values: { "true": IN, "false": OUT } }] }
`;
    expect(mappingsOf(file(beside)).map((m) => m.external)).toEqual(['list:7', 'list:8', 'opt_out_email', 'list:8', 'list:9']);
  });

  it('their catalog references are checked at the key they come from', () => {
    const dangling = `    lists: [{ id: 7, consent: marketing.sms }, { id: 8, topic: offers }]
    optOut: { opt_out_email: profiling.email }
`;
    expect(errorsOf(file(dangling))).toEqual([
      'inline.yaml:16:31: connectors.list.lists[0].consent: purpose "marketing" does not apply to channel "sms" (its channels: email)',
      'inline.yaml:16:64: connectors.list.lists[1].topic: topic "offers" is not in catalog.topics (defined: newsletter)',
      'inline.yaml:17:30: connectors.list.optOut.opt_out_email: purpose "profiling" is not in catalog.purposes (defined: marketing)',
    ]);
  });

  it('are checked even when another part of the file is wrong, and not derived from own keys that are wrong', () => {
    const withBadPriority = `    priority: high
    lists: [{ id: 8, topic: offers }]
`;
    expect(errorsOf(file(withBadPriority))).toEqual([
      'inline.yaml:16:15: connectors.list.priority: expected a number, got a string',
      'inline.yaml:17:29: connectors.list.lists[0].topic: topic "offers" is not in catalog.topics (defined: newsletter)',
    ]);
    expect(errorsOf(file('    lists: [{ id: seven, topic: offers }]\n'))).toEqual([
      'inline.yaml:16:19: connectors.list.lists[0].id: expected a number, got a string',
    ]);
  });
});

describe('mergeDerivedMappings', () => {
  it('reports an entry the connector derives wrong as the connector’s fault, at the key', () => {
    const broken = { type: 'broken', derivedMappings: () => [{ path: ['lists', 0], entry: { external: 'x' } }] };
    const merge = mergeDerivedMappings(broken, 'b', {}, [], {});
    expect(merge.mappings).toEqual([]);
    expect(merge.findings).toEqual([
      {
        code: 'invalid',
        path: ['connectors', 'b', 'lists', 0],
        at: 'value',
        message:
          'connector type "broken" derives an invalid mapping entry from this key: a mapping needs exactly one of field, consent, topic, identity, right',
      },
    ]);
  });

  it('keeps the YAML entries as they are for a connector that derives nothing', () => {
    const yaml = [parsed({ field: 'firstName', external: 'given_name' })];
    expect(mergeDerivedMappings({ type: 'plain' }, 'p', {}, yaml, {})).toEqual({ mappings: yaml, findings: [] });
  });
});

describe('the built-in connectors on config/concord.yaml', () => {
  it('derive exactly the mapping entries the file wrote twice before (HubSpot subscriptions, Salesforce channelFlags)', async () => {
    const result = await loadConfig('config/concord.yaml', { connectors: builtinConnectors, env: {} });
    if (!result.ok) throw new Error(result.errors.join('\n'));
    // The `mappings` the file held before its entries were derived, as written there.
    expect(result.config.connectors['hubspot']?.mappings).toEqual([
      parsed({
        consent: 'marketing.email',
        external: 'subscription:101',
        transform: [{ type: 'map', values: { granted: 'SUBSCRIBED', denied: 'UNSUBSCRIBED' } }],
      }),
      parsed({
        topic: 'newsletter',
        external: 'subscription:103',
        transform: [{ type: 'map', values: { true: 'SUBSCRIBED', false: 'UNSUBSCRIBED' } }],
      }),
      // The file's own attribute mapping, after the derived entries.
      parsed({ field: 'city', external: 'city' }),
    ]);
    expect(result.config.connectors['salesforce']?.mappings).toEqual([
      parsed({ consent: 'marketing.email', external: 'HasOptedOutOfEmail', transform: [{ type: 'invert' }], withdrawOnly: true }),
      parsed({ field: 'country', external: 'MailingCountry' }),
    ]);
    // The engine compiles them as they are: a SUBSCRIBED status grants, the opt-out flag only withdraws.
    const bound = connectorsFromConfig(result.config, builtinConnectors);
    const consentOf = (id: string) => bound.find((c) => c.id === id)?.mapping.entries.filter((e) => e.key === 'consent:marketing.email');
    expect(consentOf('hubspot')?.map((e) => [e.external, e.withdrawOnly])).toEqual([['subscription:101', false]]);
    expect(consentOf('salesforce')?.map((e) => [e.external, e.withdrawOnly])).toEqual([['HasOptedOutOfEmail', true]]);
    // The attribute mapping joins HubSpot's defaults, and the property it names is read.
    const hubspot = bound.find((c) => c.id === 'hubspot');
    expect(hubspot?.mapping.entries.filter((e) => e.external === 'city').map((e) => e.key)).toEqual(['field:city']);
    expect(result.config.connectors['hubspot']?.['properties']).toEqual(['city']);
  });
});
