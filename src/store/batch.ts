import { packLogical, type LogicalKey } from './keys.js';
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

  constructor(
    readonly base: BatchBase,
    meta: CommitMeta,
  ) {
    this.meta = { ...meta, paths: [...(meta.paths ?? [])] };
  }

  get version(): Version {
    return this.base.version;
  }

  get size(): number {
    return this.writes.size;
  }

  set(key: LogicalKey, value: StoreValue): void {
    const packed = packLogical(key);
    this.writes.set(packed.toString('latin1'), { key, packed, value });
  }

  delete(key: LogicalKey): void {
    const packed = packLogical(key);
    this.writes.set(packed.toString('latin1'), { key, packed, value: null });
  }

  /** Records a path for the commit log (deduplicated). */
  touch(...paths: string[]): void {
    for (const p of paths) if (!this.meta.paths.includes(p)) this.meta.paths.push(p);
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
    const overlay = [...this.writes.values()].filter(
      (w) => w.packed.subarray(0, packedPrefix.length).equals(packedPrefix) && (!after || Buffer.compare(w.packed, after) > 0),
    );
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
