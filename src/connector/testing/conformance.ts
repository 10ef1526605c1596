/**
 * The connector conformance suite (the connector test kit: tests import it, production code
 * never does): vitest tests every connector must pass against its
 * emulator. Call `runConformance({...})` at the top level of a connector's test file.
 *
 * The suite only generates tests for what the connector declares: a connector without
 * `erase` gets no erase tests, and optional harness hooks (`poison`, `requestCount`) add the
 * tests that need them. Nothing is skipped with `.skip`. A connector whose `erase` answers
 * `pending` (a system that erases later) is followed through `eraseProgress` until its tickets
 * are done (`followErasure`, `erasure.ts`): it must then show the same final picture as one that
 * erases at once, and answering `pending` without `eraseProgress` fails the erase test.
 *
 * A connector that declares `erase` or `export` must declare `find` (data-subject requests search
 * every system first): its tests search pushed samples by e-mail, by the system's id and (with
 * `findsPhones`) by phone, and bound the API calls of a batch of queries (`callsPerFind`).
 *
 * Records are built the way the engine builds them: canonical sample profiles are mapped out
 * with the connector's mapping (defaults plus `mappings`), and what comes back is mapped in.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MergePolicy } from '../../profile/schema.js';
import type { Profile } from '../../profile/schema.js';
import type {
  ConnectorDefinition,
  ConnectorInstance,
  ExternalRecord,
  FindQuery,
  FoundRecord,
  KnownRecord,
  PushRecord,
  RawWebhook,
  WebhookEvent,
} from '../define.js';
import { MalformedPayloadError, RateLimitedError } from '../errors.js';
import { compileMapping, mapInbound, mapOutbound } from '../mapping.js';
import type { CompiledMapping } from '../mapping.js';
import { silentLogger } from '../../log/logger.js';
import { followErasure } from './erasure.js';

/** One running emulator (fresh state) for one test. */
export interface ConformanceEnvironment<Config> {
  /** Instance config pointing at this emulator (YAML-like input; parsed with the connector's `configSchema`). */
  config: Partial<Config> | Record<string, unknown>;
  /** Makes the emulator answer the next API call with HTTP 429 and `Retry-After: <seconds>`. */
  rateLimitNextCall(retryAfterSeconds: number): void | Promise<void>;
  /**
   * Changes a record in the emulator as a user of the system would, and resolves with the
   * webhook request the system sends for it. Required when the connector declares webhooks.
   */
  captureWebhook?(): Promise<RawWebhook>;
  /** Makes the emulator reject every push of this e-mail permanently (needed when `canPoison`). */
  poison?(email: string): void | Promise<void>;
  /** API requests the emulator has served so far (needed when `countsRequests`). */
  requestCount?(): number | Promise<number>;
  /** Stops the emulator and frees its state. */
  stop(): Promise<void>;
}

export interface ConformanceOptions<Config, Cursor> {
  /** Suite title (defaults to `conformance: <type>`). */
  name?: string;
  definition: ConnectorDefinition<Config, Cursor>;
  /** Starts a fresh emulator; called once per test. */
  start(): Promise<ConformanceEnvironment<Config>>;
  /** YAML mapping entries to apply on top of the connector's defaults. */
  mappings?: readonly unknown[];
  /** Merge policy used to map profiles out (default: no catalog, every purpose open). */
  policy?: MergePolicy;
  /** Canonical sample profile `i`; must carry an e-mail identity the mapping pushes. */
  sampleProfile?(i: number): Profile;
  /** The environment offers `poison`: adds the poison-record test. */
  canPoison?: boolean;
  /** The environment offers `requestCount`: the full-batch test also counts API calls. */
  countsRequests?: boolean;
  /** API calls one full push batch may take (default 1). */
  callsPerBatch?: number;
  /** Records in the "full batch" test (default `min(limits.maxBatch, 100)`). */
  fullBatchSize?: number;
  /**
   * The system can search by phone and the mapping pushes the sample's phone: adds the
   * find-by-phone test (the samples get a phone identity when they have none).
   */
  findsPhones?: boolean;
  /**
   * API calls one `find` of `findBatchSize` queries may take (each query an e-mail, every other
   * one also the system's id, and a phone when `findsPhones`), checked when `countsRequests`
   * (default 1: one batch call).
   */
  callsPerFind?: number;
  /** Queries in the "batch of queries" find test (default `min(limits.maxBatch, 100)`). */
  findBatchSize?: number;
  /**
   * For webhook schemes without a body signature (e.g. Salesforce Outbound Messages, which name
   * the sending organization instead): turns a genuine webhook into one from another sender.
   * The suite then checks that `verify` refuses it, in place of the signature tests.
   */
  forgeWebhook?(raw: RawWebhook): RawWebhook;
  /**
   * Config keys that make a credential wrong (e.g. `{ accessToken: 'wrong' }`), merged over the
   * environment's config: `check` must then answer a ✘ naming a config key and a fix. `'none'`
   * only for a system that takes no credentials (an in-process test double). Required: every
   * connector implements `check`, and the suite runs it with good and wrong credentials.
   */
  wrongCredentials: Record<string, unknown> | 'none';
}

const STAMP = { at: '2026-01-15T09:30:00.000Z', source: 'conformance' };

/** The default sample profile: e-mail, first and last name, e-mail marketing consent, newsletter. */
export function defaultSampleProfile(i: number): Profile {
  return {
    id: `conformance-profile-${i}`,
    identities: [{ kind: 'email', value: `conformance-${i}@example.com`, ...STAMP }],
    attributes: {
      firstName: { value: `First${i}`, ...STAMP },
      lastName: { value: `Last${i}`, ...STAMP },
    },
    consents: {
      marketing: {
        email: { value: i % 2 === 0 ? 'granted' : 'denied', legalBasis: 'consent', evidence: { method: 'conformance' }, ...STAMP },
      },
    },
    subscriptions: { newsletter: { value: i % 3 === 0, ...STAMP } },
    rights: { objections: {} },
    version: 1,
  };
}

/** A phone number for sample `i` (E.164, in a range reserved for fiction). */
export function samplePhone(i: number): string {
  return `+1555010${String(i % 10_000).padStart(4, '0')}`;
}

/** The sample profile with a phone identity (`samplePhone`) when it has none. */
function withPhone(p: Profile, i: number): Profile {
  if (p.identities.some((x) => x.kind === 'phone')) return p;
  return { ...p, identities: [...p.identities, { kind: 'phone', value: samplePhone(i), ...STAMP }] };
}

/** What `find` answered, comparable whatever order the kinds of a match come in. */
function sortedMatches(answers: FoundRecord[][]): FoundRecord[][] {
  return answers.map((a) =>
    a.map((r) => ({ externalId: r.externalId, matchedBy: [...r.matchedBy].sort() })).sort((x, y) => (x.externalId < y.externalId ? -1 : 1)),
  );
}

const query = (q: Partial<FindQuery>): FindQuery => ({ emails: [], phones: [], externalIds: [], ...q });

const silent = silentLogger();

function requireHook<F>(hook: F | undefined, name: string): F {
  if (hook === undefined) throw new Error(`the conformance harness declared ${name} but the environment lacks it`);
  return hook;
}

/** Registers the conformance tests for one connector. */
export function runConformance<Config, Cursor>(options: ConformanceOptions<Config, Cursor>): void {
  const { definition } = options;
  const caps = definition.capabilities;
  const policy = options.policy ?? MergePolicy.parse({});
  const sample = options.sampleProfile ?? defaultSampleProfile;
  const mapping: CompiledMapping = compileMapping(definition, options.mappings ?? []);
  const emailOf = (p: Profile): string => {
    const email = p.identities.find((i) => i.kind === 'email')?.value;
    if (email === undefined) throw new Error('sample profiles need an e-mail identity');
    return email;
  };
  const toPush = (p: Profile, externalId?: string): PushRecord => {
    const out = mapOutbound(mapping, p, policy);
    expect(out.errors).toEqual([]);
    return { profileId: p.id, fields: out.fields, ...(externalId === undefined ? {} : { externalId }) };
  };

  interface Ctx {
    env: ConformanceEnvironment<Config>;
    instance: ConnectorInstance<Cursor>;
  }
  const open: Ctx[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) {
      await c.instance.close?.();
      await c.env.stop();
    }
  });
  // What the hub would hold (its shadows) for each instance: profile id -> external id, from the pushes that succeeded.
  const knownOf = new WeakMap<ConnectorInstance<Cursor>, Map<string, string>>();
  async function setup(overrides: Record<string, unknown> = {}): Promise<Ctx> {
    const env = await options.start();
    const config = definition.configSchema.parse({ ...env.config, ...overrides });
    const known = new Map<string, string>();
    const knownRecords = async (page: { after?: string; limit: number }): Promise<KnownRecord[]> =>
      [...known.entries()]
        .filter(([profileId]) => page.after === undefined || profileId > page.after)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, page.limit)
        .map(([key, externalId]) => ({ key, externalId }));
    const instance = await definition.create({ instanceId: `conformance-${definition.type}`, config, logger: silent, knownRecords });
    knownOf.set(instance, known);
    const c = { env, instance };
    open.push(c);
    return c;
  }
  const signal = () => new AbortController().signal;

  async function pushOk(instance: ConnectorInstance<Cursor>, profiles: Profile[]): Promise<string[]> {
    const outcomes = await instance.push?.(
      profiles.map((p) => toPush(p)),
      signal(),
    );
    return (outcomes ?? []).map((o) => {
      if (o.status !== 'ok') throw new Error(`push of ${o.profileId} was ${o.status}: ${o.reason}`);
      knownOf.get(instance)?.set(o.profileId, o.externalId);
      return o.externalId;
    });
  }

  async function pullAll(instance: ConnectorInstance<Cursor>, cursor?: Cursor): Promise<{ records: ExternalRecord[]; cursors: Cursor[] }> {
    const records: ExternalRecord[] = [];
    const cursors: Cursor[] = [];
    const pull = instance.pull;
    if (!pull) throw new Error('connector has no pull');
    for await (const page of pull.call(instance, cursor, signal())) {
      records.push(...page.records);
      cursors.push(page.cursor);
    }
    return { records, cursors };
  }

  function inboundEmail(record: ExternalRecord): string | undefined {
    const { patch } = mapInbound(mapping, record, { source: 'conformance', receivedAt: STAMP.at, patchId: 'x' });
    return patch.identities.find((i) => i.kind === 'email')?.value;
  }

  describe(options.name ?? `conformance: ${definition.type}`, () => {
    describe('definition', () => {
      it('has a type, positive integer limits and compiling default mappings', () => {
        expect(definition.type).toMatch(/^[a-z][a-z0-9_-]*$/);
        const l = definition.limits;
        for (const n of [l.requestsPerWindow, l.windowMs, l.maxBatch, l.concurrency]) {
          expect(Number.isInteger(n) && n > 0).toBe(true);
        }
        expect(mapping.outbound.some((e) => e.target.kind === 'identity') || !caps.push).toBe(true);
      });

      it('declares find when it declares erase or export (data-subject requests search every system first)', () => {
        expect(caps.find || !(caps.erase || caps.export)).toBe(true);
      });

      it('creates an instance that implements every declared capability', async () => {
        const { instance } = await setup();
        expect(typeof instance.pull === 'function').toBe(caps.pull);
        expect(typeof instance.push === 'function').toBe(caps.push);
        expect(typeof instance.erase === 'function').toBe(caps.erase);
        // Progress of erasures carried out later belongs to a connector that erases.
        expect(typeof instance.eraseProgress !== 'function' || caps.erase).toBe(true);
        expect(typeof instance.export === 'function').toBe(caps.export);
        expect(typeof instance.find === 'function').toBe(caps.find);
        expect(typeof instance.verify === 'function' && typeof instance.parse === 'function').toBe(caps.webhooks);
      });
    });

    describe('check', () => {
      const secretsOf = (config: Record<string, unknown>): string[] =>
        (definition.secretKeys ?? []).flatMap((k) => {
          const v = config[k];
          return typeof v === 'string' && v.length >= 8 ? [v] : [];
        });

      it('passes with the environment’s credentials: one line per check, no ✘, no secret in any line', async () => {
        const { env, instance } = await setup();
        expect(instance.check, 'every connector implements check').toBeTypeOf('function');
        const lines = (await instance.check?.(signal())) ?? [];
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.filter((l) => !l.ok)).toEqual([]);
        for (const l of lines) expect(l.detail).toMatch(/.+/);
        const text = JSON.stringify(lines);
        for (const secret of secretsOf(env.config as Record<string, unknown>)) expect(text).not.toContain(secret);
      });

      const wrong = options.wrongCredentials;
      if (wrong !== 'none') {
        it('answers a ✘ naming the config key and a fix with a wrong credential (and does not throw)', async () => {
          const { instance } = await setup(wrong);
          const lines = (await instance.check?.(signal())) ?? [];
          const failed = lines.filter((l) => !l.ok);
          expect(failed.length).toBeGreaterThan(0);
          for (const l of failed) {
            expect(l.path?.length ?? 0, l.detail).toBeGreaterThan(0);
            expect(l.fix, l.detail).toMatch(/.+/);
          }
          expect(failed.some((l) => Object.hasOwn(wrong, String(l.path?.[0])))).toBe(true);
          for (const secret of Object.values(wrong)) if (typeof secret === 'string') expect(JSON.stringify(lines)).not.toContain(secret);
        });
      }
    });

    if (caps.push) {
      describe('push', () => {
        it('returns one outcome per record, in input order', async () => {
          const { instance } = await setup();
          const profiles = [3, 1, 4, 0, 2].map((i) => sample(i)).slice(0, Math.max(1, Math.min(5, definition.limits.maxBatch)));
          const outcomes = await instance.push?.(
            profiles.map((p) => toPush(p)),
            signal(),
          );
          expect(outcomes?.map((o) => o.profileId)).toEqual(profiles.map((p) => p.id));
          for (const o of outcomes ?? []) {
            expect(o.status).toBe('ok');
            if (o.status === 'ok') expect(o.externalId).toMatch(/.+/);
          }
          expect(new Set(outcomes?.map((o) => (o.status === 'ok' ? o.externalId : ''))).size).toBe(profiles.length);
        });

        it('returns no outcomes for an empty batch', async () => {
          const { instance } = await setup();
          await expect(instance.push?.([], signal())).resolves.toEqual([]);
        });

        it('updates the same record when pushed again with its external id', async () => {
          const { instance } = await setup();
          const p = sample(7);
          const [id] = await pushOk(instance, [p]);
          const again = await instance.push?.([toPush(p, id)], signal());
          // The system's own stamps of the write (`writtenAt`, `fieldsWrittenAt`) are optional extras.
          expect(again).toHaveLength(1);
          expect(again?.[0]).toMatchObject({ status: 'ok', profileId: p.id, externalId: id });
        });

        it('surfaces an HTTP 429 as RateLimitedError with the Retry-After wait', async () => {
          const { env, instance } = await setup();
          await env.rateLimitNextCall(2);
          const err = await instance.push?.([toPush(sample(1))], signal()).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(RateLimitedError);
          expect((err as RateLimitedError).retryAfterMs).toBe(2000);
        });

        it(`pushes a full batch${options.countsRequests ? ' in the declared number of API calls' : ''}`, async () => {
          const { env, instance } = await setup();
          const size = options.fullBatchSize ?? Math.min(definition.limits.maxBatch, 100);
          const profiles = Array.from({ length: size }, (_, i) => sample(100 + i));
          const count = async () => (options.countsRequests ? await requireHook(env.requestCount, 'requestCount')() : 0);
          const before = await count();
          const ids = await pushOk(instance, profiles);
          expect(new Set(ids).size).toBe(size);
          if (options.countsRequests) expect((await count()) - before).toBeLessThanOrEqual(options.callsPerBatch ?? 1);
        });

        if (options.canPoison) {
          it('a permanently rejected record gets a reason and does not block the rest of its batch', async () => {
            const { env, instance } = await setup();
            const profiles = [sample(21), sample(22), sample(23)];
            await requireHook(env.poison, 'poison')(emailOf(profiles[1] as Profile));
            const outcomes =
              (await instance.push?.(
                profiles.map((p) => toPush(p)),
                signal(),
              )) ?? [];
            expect(outcomes.map((o) => o.status)).toEqual(['ok', 'rejected', 'ok']);
            const rejected = outcomes[1];
            if (rejected?.status === 'rejected') expect(rejected.reason).toMatch(/.+/);
          });
        }
      });
    }

    if (caps.pull) {
      describe('pull', () => {
        if (caps.push) {
          it('sees a pushed record, and the record maps back in without errors', async () => {
            const { instance } = await setup();
            const p = sample(5);
            const [id] = await pushOk(instance, [p]);
            const { records } = await pullAll(instance);
            const found = records.find((r) => r.externalId === id);
            expect(found).toBeDefined();
            if (!found) return;
            const { errors } = mapInbound(mapping, found, { source: 'conformance', receivedAt: STAMP.at, patchId: 'x' });
            expect(errors).toEqual([]);
            expect(inboundEmail(found)).toBe(emailOf(p));
            expect(Number.isNaN(Date.parse(found.at))).toBe(false);
          });

          it('saves cursors that round-trip through the cursor schema and resume after later changes', async () => {
            const { instance } = await setup();
            await pushOk(instance, [sample(1), sample(2)]);
            const first = await pullAll(instance);
            expect(first.cursors.length).toBeGreaterThan(0);
            for (const c of first.cursors) {
              expect(definition.cursorSchema.parse(JSON.parse(JSON.stringify(c)))).toEqual(c);
            }
            const saved = definition.cursorSchema.parse(JSON.parse(JSON.stringify(first.cursors.at(-1))));
            const [laterId] = await pushOk(instance, [sample(3)]);
            const resumed = await pullAll(instance, saved);
            expect(resumed.records.map((r) => r.externalId)).toContain(laterId);
          });
        }

        it('surfaces an HTTP 429 during a pull as RateLimitedError', async () => {
          const { env, instance } = await setup();
          // Something to read, for a system whose pull reads only the records the hub knows.
          if (caps.push) await pushOk(instance, [sample(4)]);
          await env.rateLimitNextCall(3);
          const err = await pullAll(instance).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(RateLimitedError);
          expect((err as RateLimitedError).retryAfterMs).toBe(3000);
        });
      });
    }

    if (caps.push) {
      describe('read', () => {
        it('reads pushed records by external id and ignores unknown ids (when read is offered)', async () => {
          const { instance } = await setup();
          const [id] = await pushOk(instance, [sample(9)]);
          if (!instance.read || id === undefined) return;
          const records = await instance.read([id, 'conformance-unknown-id'], signal());
          expect(records.map((r) => r.externalId)).toEqual([id]);
          expect(inboundEmail(records[0] as ExternalRecord)).toBe(emailOf(sample(9)));
        });
      });
    }

    if (caps.erase && caps.push) {
      describe('erase', () => {
        it('erases by external id and by e-mail, one outcome per ref in order; then nothing is found', async () => {
          const { instance } = await setup();
          const [a, b] = [sample(11), sample(12)];
          const [idA, idB] = await pushOk(instance, [a, b]);
          const refs = [{ externalId: idA }, { email: emailOf(b) }, { email: 'conformance-nobody@example.com' }];
          const answered = (await instance.erase?.(refs, signal())) ?? [];
          expect(answered.map((o) => o.ref)).toEqual(refs);
          // A system that erases later answers `pending`: follow its tickets (eraseProgress) until done.
          const outcomes = await followErasure(instance, answered, { signal: signal() });
          expect(outcomes).toEqual([
            { status: 'erased', ref: refs[0] },
            { status: 'erased', ref: refs[1] },
            { status: 'not_found', ref: refs[2] },
          ]);
          if (instance.read && idA !== undefined && idB !== undefined) {
            expect(await instance.read([idA, idB], signal())).toEqual([]);
          }
          if (instance.pull) {
            const { records } = await pullAll(instance);
            const alive = records.filter((r) => !r.deleted && (r.externalId === idA || r.externalId === idB));
            expect(alive).toEqual([]);
          }
          if (instance.export) {
            expect(await instance.export([{ email: emailOf(a) }, { email: emailOf(b) }], signal())).toEqual([]);
          }
          if (instance.find) {
            expect(await instance.find([query({ emails: [emailOf(a), emailOf(b)] })], signal())).toEqual([[]]);
          }
        });
      });
    }

    if (caps.export && caps.push) {
      describe('export', () => {
        it('returns what the system holds on a person, by e-mail or external id', async () => {
          const { instance } = await setup();
          const p = sample(13);
          const [id] = await pushOk(instance, [p]);
          const byEmail = (await instance.export?.([{ email: emailOf(p) }], signal())) ?? [];
          expect(byEmail.map((r) => r.externalId)).toEqual([id]);
          expect(inboundEmail(byEmail[0] as ExternalRecord)).toBe(emailOf(p));
          const byId = (await instance.export?.([{ externalId: id ?? '' }], signal())) ?? [];
          expect(byId.map((r) => r.externalId)).toEqual([id]);
          // The whole record holds values only: empty strings, null and empty lists are left out.
          for (const [name, value] of Object.entries(byId[0]?.fields ?? {}))
            expect(value === '' || value === null || (Array.isArray(value) && value.length === 0), `${name} is empty`).toBe(false);
          // Labels name fields the record holds (or a path into one, e.g. Mailchimp's merge_fields.FNAME).
          for (const name of Object.keys(byId[0]?.labels ?? {}))
            expect(Object.hasOwn(byId[0]?.fields ?? {}, name) || Object.hasOwn(byId[0]?.fields ?? {}, name.split('.')[0] ?? ''), name).toBe(
              true,
            );
        });
      });
    }

    if (caps.find && caps.push) {
      describe('find', () => {
        const find = async (instance: ConnectorInstance<Cursor>, queries: FindQuery[]): Promise<FoundRecord[][]> => {
          const f = instance.find;
          if (!f) throw new Error('connector has no find');
          return f.call(instance, queries, signal());
        };

        it('finds pushed records by e-mail and by the system id, one answer per query in input order; unknown identities answer []', async () => {
          const { instance } = await setup();
          const [a, b, c] = [sample(31), sample(32), sample(33)];
          const [idA, idB, idC] = await pushOk(instance, [a, b, c]);
          expect(instance.findsBy ?? ['email', 'externalId'], 'findsBy must name what this test finds by').toEqual(
            expect.arrayContaining(['email', 'externalId']),
          );
          const answers = await find(instance, [
            query({ emails: [emailOf(b)] }),
            query({ externalIds: [idA ?? ''] }),
            query({ emails: ['conformance-nobody@example.com'], phones: ['+15550109999'], externalIds: ['conformance-unknown-id'] }),
            query({ emails: [emailOf(c)], externalIds: [idC ?? ''] }),
            query({}),
          ]);
          expect(sortedMatches(answers)).toEqual([
            [{ externalId: idB, matchedBy: ['email'] }],
            [{ externalId: idA, matchedBy: ['externalId'] }],
            [],
            [{ externalId: idC, matchedBy: ['email', 'externalId'] }],
            [],
          ]);
        });

        it('surfaces an HTTP 429 during a find as RateLimitedError', async () => {
          const { env, instance } = await setup();
          const p = sample(35);
          await pushOk(instance, [p]);
          await env.rateLimitNextCall(2);
          const err = await find(instance, [query({ emails: [emailOf(p)] })]).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(RateLimitedError);
          expect((err as RateLimitedError).retryAfterMs).toBe(2000);
        });

        it('answers no queries with no answers', async () => {
          const { instance } = await setup();
          await expect(find(instance, [])).resolves.toEqual([]);
        });

        if (options.findsPhones) {
          it('finds a pushed record by phone', async () => {
            const { instance } = await setup();
            const p = withPhone(sample(34), 34);
            const phone = samplePhone(34);
            expect(Object.values(toPush(p).fields), 'findsPhones: the mapping must push the sample phone').toContain(phone);
            expect(instance.findsBy ?? ['phone'], 'findsBy must name the phone it finds by').toContain('phone');
            const [id] = await pushOk(instance, [p]);
            const answers = await find(instance, [query({ phones: [phone] }), query({ phones: [samplePhone(9999)] })]);
            expect(sortedMatches(answers)).toEqual([[{ externalId: id, matchedBy: ['phone'] }], []]);
          });
        }

        it(`answers a batch of queries${options.countsRequests ? ' in the declared number of API calls' : ''}`, async () => {
          const { env, instance } = await setup();
          const size = options.findBatchSize ?? Math.min(definition.limits.maxBatch, 100);
          const indexes = Array.from({ length: size }, (_, i) => 200 + i);
          const profiles = indexes.map((i) => (options.findsPhones ? withPhone(sample(i), i) : sample(i)));
          const ids: string[] = [];
          for (let from = 0; from < profiles.length; from += definition.limits.maxBatch) {
            ids.push(...(await pushOk(instance, profiles.slice(from, from + definition.limits.maxBatch))));
          }
          const queries = profiles.map((p, k) =>
            query({
              emails: [emailOf(p)],
              ...(k % 2 === 1 ? { externalIds: [ids[k] ?? ''] } : {}),
              ...(options.findsPhones ? { phones: [samplePhone(indexes[k] ?? 0)] } : {}),
            }),
          );
          const count = async () => (options.countsRequests ? await requireHook(env.requestCount, 'requestCount')() : 0);
          const before = await count();
          const answers = await find(instance, queries);
          const calls = (await count()) - before;
          expect(answers.map((a) => a.map((r) => r.externalId))).toEqual(ids.map((id) => [id]));
          if (options.countsRequests) {
            // A figure, not a timing: the calls one find of `size` queries cost.
            process.stdout.write(`conformance ${definition.type}: find of ${size} queries took ${calls} API calls\n`);
            expect(calls).toBeLessThanOrEqual(options.callsPerFind ?? 1);
          }
        });
      });
    }

    if (caps.webhooks) {
      describe('webhooks', () => {
        async function captured(env: ConformanceEnvironment<Config>): Promise<RawWebhook> {
          expect(env.captureWebhook, 'the harness must offer captureWebhook for a webhook connector').toBeTypeOf('function');
          const raw = await env.captureWebhook?.();
          if (!raw) throw new Error('no webhook captured');
          return raw;
        }

        it('verifies a genuine webhook and parses it into events with stable ids', async () => {
          const { env, instance } = await setup();
          const raw = await captured(env);
          expect(await instance.verify?.(raw)).toEqual({ ok: true });
          const events: WebhookEvent[] = (await instance.parse?.(raw)) ?? [];
          expect(events.length).toBeGreaterThan(0);
          for (const e of events) expect(e.eventId).toMatch(/.+/);
          const again: WebhookEvent[] = (await instance.parse?.(raw)) ?? [];
          expect(again.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
          for (const e of events) {
            if (e.kind !== 'records') continue;
            for (const r of e.records) {
              expect(mapInbound(mapping, r, { source: 'conformance', receivedAt: raw.receivedAt, patchId: e.eventId }).errors).toEqual([]);
            }
          }
        });

        const forge = options.forgeWebhook;
        if (forge) {
          it('refuses a webhook from another sender (the scheme has no signature)', async () => {
            const { env, instance } = await setup();
            const raw = await captured(env);
            expect(await instance.verify?.(raw)).toEqual({ ok: true });
            expect(await instance.verify?.(forge(raw))).toMatchObject({ ok: false });
          });
        } else
          it('rejects a tampered body, missing signature headers and a stale signature', async () => {
            const { env, instance } = await setup();
            const raw = await captured(env);
            const tampered = Buffer.from(raw.body);
            const mid = Math.floor(tampered.length / 2);
            tampered[mid] = (tampered[mid] ?? 0) ^ 0x01;
            expect(await instance.verify?.({ ...raw, body: tampered })).toMatchObject({ ok: false });
            expect(await instance.verify?.({ ...raw, body: Buffer.concat([raw.body, Buffer.from(' ')]) })).toMatchObject({ ok: false });
            const headers = Object.fromEntries(Object.entries(raw.headers).map(([k]) => [k, undefined]));
            expect(await instance.verify?.({ ...raw, headers })).toMatchObject({ ok: false });
            const late = new Date(Date.parse(raw.receivedAt) + 24 * 3600_000).toISOString();
            expect(await instance.verify?.({ ...raw, receivedAt: late })).toMatchObject({ ok: false });
          });

        it('throws MalformedPayloadError when parsing a body of the wrong shape', async () => {
          const { env, instance } = await setup();
          const raw = await captured(env);
          for (const body of ['this is not the expected payload', '{"unexpected": true}']) {
            const err = await Promise.resolve()
              .then(() => instance.parse?.({ ...raw, body: Buffer.from(body) }))
              .then(
                () => undefined,
                (e: unknown) => e,
              );
            expect(err).toBeInstanceOf(MalformedPayloadError);
          }
        });
      });
    }
  });
}
