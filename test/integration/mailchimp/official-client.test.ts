/**
 * The official `@mailchimp/mailchimp_marketing` client (a test oracle only; the connector uses
 * axios) against the emulator: members, batch subscribe and batch operations answer what the
 * real client expects. The client is a process-global singleton: `setConfig`, then `basePath`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIST_ID, DEFAULT_INTEREST_IDS } from '../../../connectors/mailchimp/emulator/index.js';
import { emulator, untarGz, type Batch, type BatchSubscribeAnswer, type Member, type Problem } from './emulator-helpers.js';

/** The part of the client this test drives (its published types lack `basePath` and `batches`). */
interface OfficialClient {
  basePath: string;
  setConfig(config: { apiKey: string; server: string }): void;
  lists: {
    setListMember(listId: string, hash: string, body: object, opts?: object): Promise<Member>;
    getListMember(listId: string, hash: string, opts?: object): Promise<Member>;
    updateListMember(listId: string, hash: string, body: object, opts?: object): Promise<Member>;
    getListMembersInfo(listId: string, opts?: object): Promise<{ members: Member[]; total_items: number; list_id: string }>;
    deleteListMemberPermanent(listId: string, hash: string): Promise<unknown>;
    updateListMemberTags(listId: string, hash: string, body: object): Promise<unknown>;
    getListMemberTags(listId: string, hash: string): Promise<{ tags: { name: string }[]; total_items: number }>;
    batchListMembers(listId: string, body: object, opts?: object): Promise<BatchSubscribeAnswer>;
  };
  batches: {
    start(body: object): Promise<Batch>;
    status(id: string): Promise<Batch>;
    list(opts?: object): Promise<{ batches: Batch[]; total_items: number }>;
  };
}

/** What the client rejects with (a superagent error). */
interface ClientError {
  status: number;
  response: { body: Problem };
}

const client = createRequire(import.meta.url)('@mailchimp/mailchimp_marketing') as OfficialClient;
const KEY = 'official-client-key-us1';
const md5 = (email: string): string => createHash('md5').update(email.toLowerCase()).digest('hex');

async function connect(): Promise<void> {
  const e = await emulator({ apiKey: KEY, batchStepMs: 2 });
  client.setConfig({ apiKey: KEY, server: 'us1' });
  client.basePath = e.apiUrl;
}

async function refusal(call: Promise<unknown>): Promise<ClientError> {
  try {
    await call;
  } catch (e) {
    return e as ClientError;
  }
  throw new Error('the call succeeded');
}

describe('the official Mailchimp client against the emulator', () => {
  it('drives members: upsert, read, update, list, tags, delete-permanent', async () => {
    await connect();
    const hash = md5('Ada@Example.com');
    const created = await client.lists.setListMember(DEFAULT_LIST_ID, hash, {
      email_address: 'Ada@Example.com',
      status_if_new: 'subscribed',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
      interests: { [DEFAULT_INTEREST_IDS.newsletter]: true },
      ip_opt: '198.51.100.1',
      timestamp_opt: '2026-01-02 03:04:05',
    });
    expect(created).toMatchObject({
      id: hash,
      email_address: 'Ada@Example.com',
      status: 'subscribed',
      ip_opt: '198.51.100.1',
      timestamp_opt: '2026-01-02T03:04:05+00:00',
      merge_fields: { FNAME: 'Ada', LNAME: 'Lovelace' },
    });

    const read = await client.lists.getListMember(DEFAULT_LIST_ID, hash, { fields: ['email_address', 'status'] });
    expect(read).toEqual({ email_address: 'Ada@Example.com', status: 'subscribed' });

    const updated = await client.lists.updateListMember(DEFAULT_LIST_ID, created.contact_id, { merge_fields: { FNAME: 'Augusta' } });
    expect([updated.contact_id, updated.merge_fields['FNAME'], updated.merge_fields['LNAME']]).toEqual([
      created.contact_id,
      'Augusta',
      'Lovelace',
    ]);

    const page = await client.lists.getListMembersInfo(DEFAULT_LIST_ID, {
      count: 1000,
      status: 'subscribed',
      sinceLastChanged: '2000-01-01T00:00:00+00:00',
    });
    expect([page.total_items, page.members.map((m) => m.email_address)]).toEqual([1, ['Ada@Example.com']]);

    expect(
      await client.lists.updateListMemberTags(DEFAULT_LIST_ID, hash, { tags: [{ name: 'vip', status: 'active' }], is_syncing: true }),
    ).toBeNull();
    expect((await client.lists.getListMemberTags(DEFAULT_LIST_ID, hash)).tags.map((t) => t.name)).toEqual(['vip']);

    await client.lists.deleteListMemberPermanent(DEFAULT_LIST_ID, hash);
    const gone = await refusal(client.lists.getListMember(DEFAULT_LIST_ID, hash));
    expect([gone.status, gone.response.body.title]).toEqual([404, 'Resource Not Found']);
    const forgotten = await refusal(
      client.lists.setListMember(DEFAULT_LIST_ID, hash, { email_address: 'ada@example.com', status_if_new: 'pending' }),
    );
    expect([forgotten.status, forgotten.response.body.title]).toEqual([400, 'Forgotten Email Not Subscribed']);
  });

  it('drives batch subscribe and reads its per-member errors', async () => {
    await connect();
    const first = await client.lists.batchListMembers(DEFAULT_LIST_ID, {
      members: [
        { email_address: 'one@example.com', status: 'subscribed' },
        { email_address: 'two@example.com', status: 'transactional' },
      ],
    });
    expect([first.total_created, first.new_members.map((m) => m.email_address)]).toEqual([2, ['one@example.com', 'two@example.com']]);
    const second = await client.lists.batchListMembers(
      DEFAULT_LIST_ID,
      {
        members: [
          { email_address: 'one@example.com', status: 'subscribed' },
          { email_address: 'bad', status: 'subscribed' },
        ],
      },
      { skipDuplicateCheck: true },
    );
    expect([second.error_count, second.errors.map((x) => x.error_code)]).toEqual([2, ['ERROR_CONTACT_EXISTS', 'ERROR_GENERIC']]);
  });

  it('drives batch operations: start, status until finished, and the results archive', async () => {
    await connect();
    const started = await client.batches.start({
      operations: [
        {
          method: 'PUT',
          path: `/lists/${DEFAULT_LIST_ID}/members/${md5('batch@example.com')}`,
          operation_id: 'p-1',
          body: JSON.stringify({ email_address: 'batch@example.com', status_if_new: 'subscribed' }),
        },
      ],
    });
    expect(started).toMatchObject({ status: 'pending', total_operations: 1 });
    let batch = await client.batches.status(started.id);
    while (batch.status !== 'finished') {
      await new Promise((r) => setTimeout(r, 5));
      batch = await client.batches.status(started.id);
    }
    expect([batch.finished_operations, batch.errored_operations]).toEqual([1, 0]);
    const files = untarGz(Buffer.from(await (await fetch(batch.response_body_url)).arrayBuffer()));
    const [result] = files.flatMap((f) => JSON.parse(f.content) as { status_code: number; operation_id: string; response: string }[]);
    expect([result?.operation_id, result?.status_code, (JSON.parse(result?.response ?? '{}') as Member).email_address]).toEqual([
      'p-1',
      200,
      'batch@example.com',
    ]);
    expect((await client.batches.list()).total_items).toBe(1);
  });
});
