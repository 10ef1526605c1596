/**
 * Values read from a system that change seldom (an account's property list, an object's
 * describe): read once, then again once `ttlMs` has passed, so a field an administrator adds,
 * hides or relabels reaches the hub without a restart. A failed read is not kept. Calls that
 * arrive while a read is in flight share it.
 */
export class ExpiringCache<K, V> {
  private readonly entries = new Map<K, { value: Promise<V>; readAt: number }>();

  /**
   * @param ttlMs How long a value is used before it is read again.
   * @param now The clock. @defaultValue `Date.now`
   */
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value of `key`, read with `load` when absent or older than the time to live. */
  get(key: K, load: () => Promise<V>): Promise<V> {
    const entry = this.entries.get(key);
    if (entry && this.now() - entry.readAt < this.ttlMs) return entry.value;
    const value = load();
    const fresh = { value, readAt: this.now() };
    this.entries.set(key, fresh);
    value.catch(() => {
      if (this.entries.get(key) === fresh) this.entries.delete(key);
    });
    return value;
  }
}

/** How long a connector uses a system's schema (property list, describe) before reading it again. */
export const SCHEMA_TTL_MS = 15 * 60_000;
