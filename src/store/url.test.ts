import { describe, expect, it } from 'vitest';
import { parseStoreUrl } from './url.js';

describe('parseStoreUrl', () => {
  it('reads SQLite paths and the in-memory database', () => {
    expect(parseStoreUrl('sqlite:./data/concord.db')).toEqual({ dialect: 'sqlite', filename: './data/concord.db' });
    expect(parseStoreUrl('sqlite:/var/lib/concord.db')).toEqual({ dialect: 'sqlite', filename: '/var/lib/concord.db' });
    expect(parseStoreUrl('sqlite:///var/lib/concord.db')).toEqual({ dialect: 'sqlite', filename: '/var/lib/concord.db' });
    expect(parseStoreUrl('sqlite::memory:')).toEqual({ dialect: 'sqlite', filename: ':memory:' });
  });

  it('passes PostgreSQL URLs through', () => {
    for (const url of ['postgres://u:p@db:5432/concord', 'postgresql://db/concord?sslmode=require']) {
      expect(parseStoreUrl(url)).toEqual({ dialect: 'postgres', connectionString: url });
    }
  });

  it('rejects anything else with a stable code', () => {
    for (const url of ['mysql://db/concord', 'sqlite:', './concord.db', '']) {
      expect(() => parseStoreUrl(url)).toThrow(expect.objectContaining({ code: 'invalid_url' }));
    }
  });
});
