import { Lru } from '../util/lru.js';
import type { StoreValue } from './values.js';

/**
 * Decoded values of logical keys, shared by every namespace of a store and bounded by bytes.
 *
 * Entries are filed under a *tag* that names the state they describe:
 *  - a past version's hex: a settled version never changes, so its entries stay true forever
 *    (GC refuses to read below its watermark before it removes anything);
 *  - `g<N>` for a namespace's head: generation N is valid only while the namespace knows its head
 *    is the version the generation describes (Namespace keeps that state). A new generation makes
 *    every older entry unreachable at once; they are evicted as the cache fills.
 * Both kinds share one LRU, so thousands of namespaces cost no more than the byte budget.
 *
 * `null` is cached too: "no such key" is the most common answer of a path lookup that creates.
 */
export class ReadCache {
  private readonly lru: Lru<string, StoreValue | null>;
  private generation = 0;

  constructor(readonly maxBytes: number) {
    this.lru = new Lru(maxBytes, (v) => 96 + (v === null ? 0 : Buffer.isBuffer(v) ? v.length : 64));
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  newGeneration(): string {
    return `g${++this.generation}`;
  }

  /** The cached value (null = known absent), or undefined on a miss. */
  get(nsId: number, tag: string, packed: Buffer): StoreValue | null | undefined {
    return this.lru.get(cacheKey(nsId, tag, packed));
  }

  set(nsId: number, tag: string, packed: Buffer, value: StoreValue | null): void {
    if (this.enabled) this.lru.set(cacheKey(nsId, tag, packed), value);
  }
}

const cacheKey = (nsId: number, tag: string, packed: Buffer): string => `${nsId}/${tag}/${packed.toString('latin1')}`;
