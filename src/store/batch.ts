import { lowerBound, packLogical, type LogicalKey } from './keys.js';
import type { Entry, KeyReader, ListOptions } from './snapshot.js';
import type { StoreValue } from './values.js';
import type { Version } from './version.js';

/** Who made a commit and why; stored in the commit log. */
export interface CommitMeta {
  /** e.g. 'cli', 'fuse', 'webdav', 'tool:Write', 'gc' */
  actor: string;
  /** A short human-readable line, e.g. 'write /docs/a.md'. */
  summary: string;
  /** Paths this commit touched (the filesystem's history() searches them). */
  paths?: string[];
}

export interface PendingWrite {
  key: LogicalKey;
  packed: Buffer;
  /** null = delete (tombstone) */
  value: StoreValue | null;
}

/** What a batch reads through: a snapshot, or the batch before it in a group commit. */
export interface BatchBase {
  readonly version: Version;
  getPacked(packed: Buffer): Promise<StoreValue | undefined>;
  list(prefix: LogicalKey, options?: ListOptions): Promise<Entry[]>;
}

/**
 * The writes of one commit, buffered in memory until the namespace commits them atomically.
 * Reads see the state the batch started from (a snapshot, or the previous batch of a group
 * commit) plus the batch's own writes.
 */
export class WriteBatch implements KeyReader {
  readonly writes = new Map<string, PendingWrite>();
  readonly meta: CommitMeta & { paths: string[] };
  /** `meta.paths` as a set: touch() stays O(1) in a commit touching hundreds of paths */
  private readonly touched: Set<string>;
  /**
   * The packed keys of `writes` in key order, so that list() finds the writes under a prefix by
   * binary search (a commit removing hundreds of files lists each one's blocks, and scanning every
   * write for each list made it quadratic) — and the keys written since, which the next list()
   * sorts in: a big copy that never lists pays nothing for the order.
   */
  private order: Buffer[] = [];
  private unordered: Buffer[] = [];

  constructor(
    readonly base: BatchBase,
    meta: CommitMeta,
  ) {
    this.meta = { ...meta, paths: [...(meta.paths ?? [])] };
    this.touched = new Set(this.meta.paths);
  }

  /** Prefixes no key was ever written under before this batch (assumeEmpty). */
  readonly emptyPrefixes: LogicalKey[] = [];

  get version(): Version {
    return this.base.version;
  }

  /**
   * Declares that no key under `prefix` was ever written before this batch — the entries of a
   * directory made under an inode number never used before — so that the read cache files the
   * listing of `prefix` as this batch's own writes under it, without reading it. A false
   * declaration makes that listing wrong until the cache drops it.
   */
  assumeEmpty(prefix: LogicalKey): void {
    this.emptyPrefixes.push(prefix);
  }

  get size(): number {
    return this.writes.size;
  }

  set(key: LogicalKey, value: StoreValue): void {
    this.put(key, value);
  }

  delete(key: LogicalKey): void {
    this.put(key, null);
  }

  private put(key: LogicalKey, value: StoreValue | null): void {
    const packed = packLogical(key);
    const id = packed.toString('latin1');
    if (!this.writes.has(id)) this.unordered.push(packed);
    this.writes.set(id, { key, packed, value });
  }

  /**
   * Merges the keys written since the last list() into `order`: each new key's place is found by
   * binary search, and the runs of `order` between them are copied without comparing. (A merge
   * comparing every key of `order` made each list() of a big commit cost a compare per write so
   * far: the mount's rm -rf commits 224 removals at once, and each rmdir's emptiness check
   * lists — 58 µs of its 75.) Written keys are never in `order` already (put() adds each once).
   */
  private sortIn(): void {
    if (this.unordered.length === 0) return;
    const added = this.unordered.sort(Buffer.compare);
    this.unordered = [];
    const old = this.order;
    const merged: Buffer[] = new Array<Buffer>(old.length + added.length);
    let from = 0;
    let k = 0;
    for (const key of added) {
      const at = lowerBound(old, key, itself, from);
      for (let i = from; i < at; i++) merged[k++] = old[i]!;
      merged[k++] = key;
      from = at;
    }
    for (let i = from; i < old.length; i++) merged[k++] = old[i]!;
    this.order = merged;
  }

  /** The index in `order` of the first key >= `packed`. */
  private lowerBound(packed: Buffer): number {
    return lowerBound(this.order, packed, itself);
  }

  /** Records a path for the commit log (deduplicated). */
  touch(...paths: string[]): void {
    for (const p of paths) {
      if (this.touched.has(p)) continue;
      this.touched.add(p);
      this.meta.paths.push(p);
    }
  }

  async get(key: LogicalKey): Promise<StoreValue | undefined> {
    return this.getPacked(packLogical(key));
  }

  async getPacked(packed: Buffer): Promise<StoreValue | undefined> {
    const pending = this.writes.get(packed.toString('latin1'));
    if (pending) return pending.value ?? undefined;
    return this.base.getPacked(packed);
  }

  async list(prefix: LogicalKey, options: ListOptions = {}): Promise<Entry[]> {
    const packedPrefix = packLogical(prefix);
    const after = options.after ? packLogical(options.after) : null;
    const overlay: PendingWrite[] = [];
    this.sortIn();
    for (let i = this.lowerBound(packedPrefix); i < this.order.length; i++) {
      const packed = this.order[i]!;
      if (packed.length < packedPrefix.length || packed.compare(packedPrefix, 0, packedPrefix.length, 0, packedPrefix.length) !== 0) break;
      if (!after || Buffer.compare(packed, after) > 0) overlay.push(this.writes.get(packed.toString('latin1'))!);
    }
    if (overlay.length === 0) return this.base.list(prefix, options);
    const merged = new Map<string, Entry>();
    const baseOptions: ListOptions = options.after ? { after: options.after } : {};
    for (const e of await this.base.list(prefix, baseOptions)) merged.set(e.packed.toString('latin1'), e);
    for (const w of overlay) {
      const id = w.packed.toString('latin1');
      if (w.value === null) merged.delete(id);
      else merged.set(id, { key: [...w.key], packed: w.packed, value: w.value });
    }
    const sorted = [...merged.values()].sort((a, b) => Buffer.compare(a.packed, b.packed));
    return options.limit !== undefined ? sorted.slice(0, options.limit) : sorted;
  }
}

/** A packed key as its own sort key (lowerBound over `order`). */
const itself = (key: Buffer): Buffer => key;
