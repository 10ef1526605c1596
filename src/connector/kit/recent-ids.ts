/**
 * A bounded memory of ids a connector has already handled (webhook event ids, notification
 * ids), so a redelivery is dropped. Sources deliver at least once; ids are remembered only
 * once the engine has safely enqueued their events (the connector's `reply`), so a delivery
 * that failed half-way is processed again on retry. The oldest ids are forgotten first.
 */
export class RecentIds<T extends string | number> {
  private readonly seen = new Set<T>();

  constructor(private readonly capacity: number) {}

  has(id: T): boolean {
    return this.seen.has(id);
  }

  remember(ids: readonly T[]): void {
    for (const id of ids) {
      this.seen.delete(id);
      this.seen.add(id);
    }
    while (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next();
      if (oldest.done) break;
      this.seen.delete(oldest.value);
    }
  }
}
