/**
 * Groups concurrent calls into one batch call: each `submit` waits until its batch has been
 * processed, so a job completes only after its effect is durable (at-least-once holds), while
 * many jobs share one store transaction. Batches run one at a time, in submission order, so
 * two versions of one record are never compared against the same stale state.
 */
export class MicroBatcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxSize: number; maxWaitMs: number },
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    if (this.pending.length >= this.options.maxSize) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.flush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.options.maxWaitMs);
    }
  }

  private async flush(): Promise<void> {
    if (this.running) return;
    const batch = this.pending.splice(0, this.options.maxSize);
    if (batch.length === 0) return;
    this.running = true;
    try {
      const outs = await this.run(batch.map((b) => b.item));
      if (outs.length !== batch.length) throw new Error(`batch returned ${outs.length} results for ${batch.length} items`);
      batch.forEach((b, i) => b.resolve(outs[i] as Out));
    } catch (err) {
      batch.forEach((b) => b.reject(err));
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
