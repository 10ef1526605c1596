/**
 * PostgreSQL: an erasure that meets a merge of the profile it erases. The erasure resolves the
 * profile's id, then locks its row; a merge that committed in between moved the person into
 * another profile, which the erasure must follow rather than erase nothing.
 */
import { describe, expect, it } from 'vitest';
import { profileOf, slowDown, storeEachTest } from './fixtures.js';

describe('an erasure racing a merge (postgres)', () => {
  const current = storeEachTest('postgres');

  it('erases the profile the erased one merged into while the erasure resolved it', async () => {
    const store = current.store();
    const first = await profileOf(store, 'first@example.com');
    const second = await profileOf(store, 'second@example.com');
    // The merge deletes the absorbed profile's row, then waits 400 ms before it records the alias.
    await slowDown(current.db().url, 'before insert on profile_aliases', 0.4);
    const merging = profileOf(store, 'first@example.com', 'second@example.com');
    await new Promise((resolve) => setTimeout(resolve, 150));
    // The newer profile is the one absorbed; erasing it after the merge erases the merged person.
    await store.deleteProfileData(second);
    await merging;
    expect(await store.findProfile({ kind: 'email', value: 'second@example.com' })).toBeNull();
    expect(await store.getProfile(first)).toBeNull();
    expect(await store.findProfile({ kind: 'email', value: 'first@example.com' })).toBeNull();
  });
});
