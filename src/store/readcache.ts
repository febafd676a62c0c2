import { lowerBound, packLogical, type KeyPart, type LogicalKey } from './keys.js';
import type { Entry } from './snapshot.js';
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
 *
 * Listings too: the live entries under a key prefix (Snapshot.list), filed under the same tags
 * and budget. Invariant: a listing under a head tag holds exactly the entries under its prefix at
 * the version the tag describes — the namespace applies each of its own commits' writes to it
 * (`applyToLists`) as it moves the tag to the new version, and may file an empty listing for a
 * prefix nothing was ever written under (a new directory's entries: `WriteBatch.assumeEmpty`).
 */
interface Slot {
  value: StoreValue | null | Entry[];
  weight: number;
  used: boolean;
  /** a listing's: its namespace and the first element of its prefix (listHead) */
  head?: string;
}

export class ReadCache {
  private readonly map = new Map<string, Slot>();
  private total = 0;
  private generation = 0;
  /**
   * Listings in `map` by namespace and first element of their prefix (listHead): a commit's write
   * can only change listings under its key's first element, so most writes (file blocks, inodes,
   * when only directories are listed) need no lookup at all.
   */
  private readonly listHeads = new Map<string, number>();

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
    return slot.value as StoreValue | null;
  }

  set(nsId: number, tag: string, packed: Buffer, value: StoreValue | null): void {
    if (!this.enabled) return;
    const key = cacheKey(nsId, tag, packed);
    this.put(key, value, 96 + key.length + valueWeight(value));
  }

  /** The live entries under `prefix` (packed), in key order, or undefined on a miss. The array is the cache's: do not change it. */
  getList(nsId: number, tag: string, prefix: Buffer): readonly Entry[] | undefined {
    const slot = this.map.get(listKey(nsId, tag, prefix));
    if (!slot) return undefined;
    slot.used = true;
    return slot.value as Entry[];
  }

  /**
   * `packed`'s value as the cached listing of `prefix` (packed) has it: null when the listing does
   * not hold it (absent at that state), undefined when there is no such listing.
   */
  getInList(nsId: number, tag: string, prefix: Buffer, packed: Buffer): StoreValue | null | undefined {
    const entries = this.getList(nsId, tag, prefix);
    if (!entries) return undefined;
    const { at, found } = seek(entries, packed);
    return found ? entries[at]!.value : null;
  }

  /**
   * Files every live entry under `prefix` (`packed`: packLogical(prefix); not the empty tuple) at
   * the state `tag` names, in key order; the cache keeps `entries` itself.
   */
  setList(nsId: number, tag: string, prefix: LogicalKey, packed: Buffer, entries: Entry[]): void {
    if (!this.enabled || prefix.length === 0) return;
    const key = listKey(nsId, tag, packed);
    this.put(key, entries, 96 + key.length + entries.reduce((n, e) => n + entryWeight(e), 0), listHead(nsId, prefix[0]!));
  }

  /**
   * A commit's write of `packed` (the logical `key`; `value` null = removed), as the namespace's
   * head moves from the state `tag` names to the next: every listing of `tag` whose prefix the key
   * starts with takes it. Cheap when no listing shares the key's first element.
   */
  applyToLists(nsId: number, tag: string, key: LogicalKey, packed: Buffer, value: StoreValue | null): void {
    if (this.listHeads.size === 0 || key.length < 2 || !this.listHeads.has(listHead(nsId, key[0]!))) return;
    for (let i = 1; i < key.length; i++) {
      const slot = this.map.get(listKey(nsId, tag, packLogical(key.slice(0, i))));
      if (!slot) continue;
      const entries = slot.value as Entry[];
      const { at, found } = seek(entries, packed);
      let delta = 0;
      if (found) delta -= entryWeight(entries[at]!);
      if (value === null) {
        if (found) entries.splice(at, 1);
      } else {
        const entry: Entry = { key: [...key], packed, value };
        delta += entryWeight(entry);
        if (found) entries[at] = entry;
        else entries.splice(at, 0, entry);
      }
      slot.weight += delta;
      this.total += delta;
    }
    this.evict();
  }

  private put(key: string, value: Slot['value'], weight: number, head?: string): void {
    if (weight > this.maxBytes / 8) return; // too big to be worth caching
    const old = this.map.get(key);
    if (old) {
      this.total += weight - old.weight;
      old.value = value;
      old.weight = weight;
    } else {
      this.map.set(key, { value, weight, used: false, ...(head !== undefined ? { head } : {}) });
      this.total += weight;
      if (head !== undefined) this.listHeads.set(head, (this.listHeads.get(head) ?? 0) + 1);
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
        if (slot.head !== undefined) {
          const n = this.listHeads.get(slot.head)! - 1;
          if (n > 0) this.listHeads.set(slot.head, n);
          else this.listHeads.delete(slot.head);
        }
      }
    }
  }

  get bytes(): number {
    return this.total;
  }
}

const cacheKey = (nsId: number, tag: string, packed: Buffer): string => `${nsId}/${tag}/${packed.toString('latin1')}`;
/** A listing's key: never a value's (those start with a digit). */
const listKey = (nsId: number, tag: string, prefix: Buffer): string => `L${nsId}/${tag}/${prefix.toString('latin1')}`;
/** What applyToLists filters writes by (String() may make two parts alike: then it only looks more often). */
const listHead = (nsId: number, first: KeyPart): string => `${nsId}/${String(first)}`;
const valueWeight = (value: StoreValue | null): number => (value === null ? 0 : Buffer.isBuffer(value) ? value.length : 64);
const packedOf = (e: Entry): Buffer => e.packed;
/** Where `packed` is, or would go, in a listing's entries (sorted by packed key). */
function seek(entries: readonly Entry[], packed: Buffer): { at: number; found: boolean } {
  const at = lowerBound(entries, packed, packedOf);
  return { at, found: at < entries.length && entries[at]!.packed.equals(packed) };
}
const entryWeight = (e: Entry): number => 48 + e.packed.length + valueWeight(e.value);
