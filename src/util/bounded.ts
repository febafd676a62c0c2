/**
 * Tasks kept a few at a time: `add` waits while `limit` are in flight, `settle` waits for all.
 * How chunk uploads overlap (one chunk is hashed while others are written out) without holding
 * more than `limit` chunks at once.
 *
 * Invariant: no rejection is left unhandled. A failed task stays in the set, so the next `add` or
 * the `settle` that waits on it rejects with its error; the caller stops there (the others run
 * to their end unobserved — what they stored is unreferenced, swept by GC).
 */
export class Bounded {
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly limit: number) {}

  async add(task: Promise<unknown>): Promise<void> {
    const p: Promise<void> = task.then(() => {
      this.inflight.delete(p);
    });
    p.catch(() => {}); // observed by race/all below
    this.inflight.add(p);
    if (this.inflight.size >= this.limit) await Promise.race(this.inflight);
  }

  async settle(): Promise<void> {
    await Promise.all(this.inflight);
  }
}
