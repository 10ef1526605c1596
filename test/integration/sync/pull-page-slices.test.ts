/**
 * A pull page is ingested a slice at a time (as many records as the ingest batches in flight
 * take), so what ingest holds is bounded by that and not by the page, which a system may make
 * large (a Salesforce Bulk API page is 10,000 rows): every record is still stored, and the
 * cursor is saved once the whole page is.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Ingestor } from '../../../src/sync/inbound/ingest.js';
import { startHub, waitFor } from '../../../harness/sync-hub.js';
import type { Hub } from '../../../harness/sync-hub.js';

const RECORDS = 12;

describe('pull page slices', () => {
  let hub: Hub | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await hub?.close();
    hub = undefined;
  });

  it('ingests a page of 12 records in slices of ingestBatchSize x ingestBatchConcurrency, and stores them all', async () => {
    hub = await startHub({
      dialect: 'sqlite',
      systems: [{ id: 'a' }, { id: 'b', webhooks: false, config: { pageSize: RECORDS } }],
      tuning: { ingestBatchSize: 2, ingestBatchConcurrency: 2 },
    });
    const b = hub.systems['b'];
    if (!b) throw new Error('no system b');
    for (let i = 0; i < RECORDS; i++) b.change({ email: `p${i}@example.com`, first_name: `P${i}` });
    const ingested: number[] = [];
    const ingest = Ingestor.prototype.ingest;
    vi.spyOn(Ingestor.prototype, 'ingest').mockImplementation(function (this: Ingestor, connector, records, ...rest) {
      if (connector.id === 'b') ingested.push(records.length);
      return ingest.call(this, connector, records, ...rest);
    });
    const jobId = await hub.engine.pullNow('b');
    const engine = hub.engine;
    await waitFor(async () => (await engine.pullProgress('b', jobId))?.state === 'completed', 30_000, 'the pull');

    expect(ingested).toEqual([4, 4, 4]);
    for (let i = 0; i < RECORDS; i++) expect(await hub.store.findProfile({ kind: 'email', value: `p${i}@example.com` })).not.toBeNull();
    expect(await hub.store.getCursor('b')).not.toBeNull();
  });
});
