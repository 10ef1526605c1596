import { StoreError } from './errors.js';

/** Where the store lives, parsed from `StoreOptions.url`. */
export type StoreLocation =
  { dialect: 'sqlite'; /** File path, or `:memory:`. */ filename: string } | { dialect: 'postgres'; connectionString: string };

/**
 * Parses `sqlite:./data/concord.db`, `sqlite:/abs/path.db`, `sqlite:///abs/path.db`,
 * `sqlite::memory:`, `postgres://...` and `postgresql://...`.
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { dialect: 'postgres', connectionString: url };
  }
  if (url.startsWith('sqlite:')) {
    let filename = url.slice('sqlite:'.length);
    if (filename.startsWith('//')) filename = filename.slice(2);
    if (filename === '') throw new StoreError('invalid_url', 'sqlite URL without a file name');
    return { dialect: 'sqlite', filename };
  }
  throw new StoreError('invalid_url', 'store URL must start with sqlite:, postgres:// or postgresql://');
}
