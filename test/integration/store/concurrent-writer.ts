/**
 * A writer process for the concurrency test: opens its own store on the URL it is given,
 * says `ready`, waits for `go`, applies its patches one transaction each, and sends back
 * the results. Run with `node --import tsx`.
 */
import type { ProfilePatch } from '../../../src/profile/schema.js';
import type { ApplyResult } from '../../../src/store/index.js';
import { openTestStore } from './fixtures.js';

interface Job {
  url: string;
  patches: ProfilePatch[];
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('concurrent-writer must be started with an IPC channel'));
      return;
    }
    process.send(message, (error: Error | null) => (error ? reject(error) : resolve()));
  });
}

function nextMessage(): Promise<unknown> {
  return new Promise((resolve) => process.once('message', resolve));
}

async function main(): Promise<void> {
  const job = (await nextMessage()) as Job;
  const store = await openTestStore(job.url);
  await send({ type: 'ready' });
  await nextMessage();
  const results: ApplyResult[] = [];
  try {
    for (const patch of job.patches) results.push(await store.applyPatch(patch));
    await send({ type: 'done', results });
  } finally {
    await store.close();
  }
  process.disconnect();
}

main().catch(async (error: unknown) => {
  await send({ type: 'error', message: error instanceof Error ? error.stack : String(error) }).catch(() => undefined);
  process.exit(1);
});
