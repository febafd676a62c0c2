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
 * Both kinds share one cache, so thousands of namespaces cost no more than the byte budget.
 *
 * `null` is cached too: "no such key" is the most common answer of a path lookup that creates.
 *
 * Eviction is CLOCK (second chance) rather than strict LRU: a hit only sets a bit, where LRU's
 * delete-and-reinsert on every hit was the cache's main cost (measured on WebDAV PUTs).
 */
interface Slot {
  value: StoreValue | null;
  weight: number;
  used: boolean;
}

export class ReadCache {
  private readonly map = new Map<string, Slot>();
  private total = 0;
  private generation = 0;

  constructor(readonly maxBytes: number) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  newGeneration(): string {
    return `g${++this.generation}`;
  }

  /** The cached value (null = known absent), or undefined on a miss. */
  get(nsId: number, tag: string, packed: Buffer): StoreValue | null | undefined {
    const slot = this.map.get(cacheKey(nsId, tag, packed));
    if (!slot) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(nsId: number, tag: string, packed: Buffer, value: StoreValue | null): void {
    if (!this.enabled) return;
    const key = cacheKey(nsId, tag, packed);
    const weight = 96 + key.length + (value === null ? 0 : Buffer.isBuffer(value) ? value.length : 64);
    if (weight > this.maxBytes / 8) return; // too big to be worth caching
    const old = this.map.get(key);
    if (old) {
      this.total += weight - old.weight;
      old.value = value;
      old.weight = weight;
    } else {
      this.map.set(key, { value, weight, used: false });
      this.total += weight;
    }
    this.evict();
  }

  /** Sweeps from the oldest entry: a used one gets a second chance at the back, others go. */
  private evict(): void {
    while (this.total > this.maxBytes) {
      const [key, slot] = this.map.entries().next().value as [string, Slot];
      this.map.delete(key);
      if (slot.used) {
        slot.used = false;
        this.map.set(key, slot);
      } else {
        this.total -= slot.weight;
      }
    }
  }

  get bytes(): number {
    return this.total;
  }
}

const cacheKey = (nsId: number, tag: string, packed: Buffer): string => `${nsId}/${tag}/${packed.toString('latin1')}`;
