/**
 * Groups concurrent calls into one batch call: each `submit` waits until its batch has been
 * processed, so a job completes only after its effect is durable (at-least-once holds), while
 * many jobs share one store transaction. Batches start in submission order; by default they
 * run one at a time. With `concurrency` > 1, a batch can start while earlier ones still run:
 * the caller must then not rely on batches finishing in order (ingest does not: the versions
 * of one record are submitted one after the other, see `Ingestor.inOrder`).
 */
export class MicroBatcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = 0;
  private readonly concurrency: number;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxSize: number; maxWaitMs: number; concurrency?: number },
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
  }

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running >= this.concurrency || this.pending.length === 0) return;
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
    if (this.running >= this.concurrency) return;
    const batch = this.pending.splice(0, this.options.maxSize);
    if (batch.length === 0) return;
    this.running++;
    // Another batch may start now if enough is waiting (or once its wait is over).
    this.schedule();
    try {
      const outs = await this.run(batch.map((b) => b.item));
      if (outs.length !== batch.length) throw new Error(`batch returned ${outs.length} results for ${batch.length} items`);
      batch.forEach((b, i) => b.resolve(outs[i] as Out));
    } catch (err) {
      batch.forEach((b) => b.reject(err));
    } finally {
      this.running--;
      this.schedule();
    }
  }
}
