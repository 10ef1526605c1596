import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../src/cli/commands/migrate.js';
import { createTestDatabase, TEST_DIALECTS } from '../../../harness/db.js';
import type { TestDatabase } from '../../../harness/db.js';

async function run(...args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  const error = vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
  try {
    const program = new Command().exitOverride();
    register(program);
    await program.parseAsync(['node', 'concord', 'migrate', ...args]);
    return lines;
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe.each(TEST_DIALECTS)('concord migrate (%s)', (dialect) => {
  let db: TestDatabase;

  beforeEach(async () => {
    db = await createTestDatabase(dialect);
    process.exitCode = undefined;
  });
  afterEach(async () => {
    process.exitCode = undefined;
    await db.drop();
  });

  it('applies pending migrations once, then reports the schema up to date', async () => {
    expect(await run('--database-url', db.url)).toEqual([
      `${db.url}: applied 0001_initial, 0002_push_log, 0003_outbox_relayed, 0004_webhooks_out, 0005_requester_verifications, 0006_sync_runs, 0007_profile_history, 0008_shadow_values_at, 0009_lookup_indexes, 0010_outbox_lease_index`,
    ]);
    expect(await run('--database-url', db.url)).toEqual([`${db.url}: schema up to date`]);
    expect(process.exitCode).toBeUndefined();
    expect(await db.count('profiles')).toBe(0);
  });

  it('fails with exit code 1 and a message when the database cannot be reached', async () => {
    // SQLite: a directory that cannot be created (its parent is a file).
    await run('--database-url', db.url);
    const url = dialect === 'sqlite' ? `${db.url}/sub/concord.db` : `${db.url}_missing`;
    const lines = await run('--database-url', url);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('migration failed');
    expect(process.exitCode).toBe(1);
  });
});
