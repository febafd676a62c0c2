import { compareBytes, makeStamp } from './bytes.js';
import { Mutex } from './mutex.js';
import { StampCollector, nextCommitVersion, nowMicros, resolveStamped } from './stamped.js';
import type { KvEngine, KvPair, KvTransaction, RangeOptions, TransactResult } from './types.js';

/**
 * In-memory engine for tests: a sorted array with binary search. Transactions run one at a time
 * (mutex) and write in place, keeping an undo log so an aborted transaction leaves no trace.
 */
export class MemoryEngine implements KvEngine {
  readonly kind = 'memory';
  private keys: Buffer[] = [];
  private values: Buffer[] = [];
  private lastVersion = 0n;
  private readonly mutex = new Mutex();
  private closed = false;

  /** Index of the first key >= key. */
  private lowerBound(key: Buffer): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private rawGet(key: Buffer): Buffer | undefined {
    const i = this.lowerBound(key);
    return i < this.keys.length && compareBytes(this.keys[i]!, key) === 0 ? this.values[i] : undefined;
  }

  private rawRange(begin: Buffer, end: Buffer, options: RangeOptions = {}): KvPair[] {
    const from = this.lowerBound(begin);
    const to = this.lowerBound(end);
    const limit = options.limit ?? Infinity;
    const out: KvPair[] = [];
    if (options.reverse) {
      for (let i = to - 1; i >= from && out.length < limit; i--) out.push({ key: this.keys[i]!, value: this.values[i]! });
    } else {
      for (let i = from; i < to && out.length < limit; i++) out.push({ key: this.keys[i]!, value: this.values[i]! });
    }
    return out;
  }

  /** Sets or deletes (value undefined) one key; returns the previous value for the undo log. */
  private rawPut(key: Buffer, value: Buffer | undefined): Buffer | undefined {
    const i = this.lowerBound(key);
    const exists = i < this.keys.length && compareBytes(this.keys[i]!, key) === 0;
    const previous = exists ? this.values[i] : undefined;
    if (value === undefined) {
      if (exists) {
        this.keys.splice(i, 1);
        this.values.splice(i, 1);
      }
    } else if (exists) {
      this.values[i] = value;
    } else {
      this.keys.splice(i, 0, key);
      this.values.splice(i, 0, value);
    }
    return previous;
  }

  latestCommitVersion(): bigint {
    return this.lastVersion;
  }

  private check(): void {
    if (this.closed) throw new Error('kv engine is closed');
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    this.check();
    return this.rawGet(key);
  }

  async getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]> {
    this.check();
    return this.rawRange(begin, end, options);
  }

  transact<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<TransactResult<T>> {
    return this.mutex.run(async () => {
      this.check();
      const undo: Array<[Buffer, Buffer | undefined]> = [];
      const put = (key: Buffer, value: Buffer | undefined): void => {
        undo.push([Buffer.from(key), this.rawPut(Buffer.from(key), value === undefined ? undefined : Buffer.from(value))]);
      };
      const engine = this;
      const tx = new (class extends StampCollector implements KvTransaction {
        get = async (key: Buffer) => engine.rawGet(key);
        getRange = async (begin: Buffer, end: Buffer, options?: RangeOptions) => engine.rawRange(begin, end, options);
        set = (key: Buffer, value: Buffer) => put(key, value);
        clear = (key: Buffer) => put(key, undefined);
        clearRange = (begin: Buffer, end: Buffer) => {
          for (const { key } of engine.rawRange(begin, end)) put(key, undefined);
        };
      })();
      try {
        const value = await fn(tx);
        let stamp: Buffer | null = null;
        if (tx.pending.length > 0) {
          this.lastVersion = nextCommitVersion(this.lastVersion, nowMicros());
          for (const [k, v] of resolveStamped(tx.pending, this.lastVersion)) put(k, v);
          stamp = makeStamp(this.lastVersion);
        }
        return { value, stamp };
      } catch (err) {
        for (let i = undo.length - 1; i >= 0; i--) this.rawPut(undo[i]![0], undo[i]![1]);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
