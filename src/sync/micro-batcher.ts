/**
 * Groups concurrent calls into one batch call: each `submit` waits until its batch has been
 * processed, so a job completes only after its effect is durable (at-least-once holds), while
 * many jobs share one store transaction.
 */
export class MicroBatcher<In, Out> {
  private pending: { item: In; resolve: (out: Out) => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = 0;

  constructor(
    private readonly run: (items: In[]) => Promise<Out[]>,
    private readonly options: { maxSize: number; maxWaitMs: number },
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.options.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  /** Batches being processed right now. */
  get inFlight(): number {
    return this.running;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.running++;
    this.run(batch.map((b) => b.item))
      .then(
        (outs) => {
          if (outs.length !== batch.length) throw new Error(`batch returned ${outs.length} results for ${batch.length} items`);
          batch.forEach((b, i) => b.resolve(outs[i] as Out));
        },
        (err: unknown) => batch.forEach((b) => b.reject(err)),
      )
      .catch((err: unknown) => batch.forEach((b) => b.reject(err)))
      .finally(() => this.running--);
  }
}
