/**
 * A FIFO async mutex. Engines that execute synchronously underneath (SQLite, memory) use it so a
 * transaction's awaits cannot interleave with another transaction's writes.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;

  /** true while a run() is queued or running */
  get busy(): boolean {
    return this.holders > 0;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.holders++;
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    try {
      return await fn();
    } finally {
      this.holders--;
      release();
    }
  }
}
