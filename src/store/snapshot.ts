import type { KvReader } from '../kv/types.js';
import {
  STAMP_LEN,
  dataKeyBase,
  dataPrefix,
  dataRange,
  dataSeekEnd,
  packLogical,
  unpackLogical,
  type KeyPart,
  type LogicalKey,
} from './keys.js';
import type { ReadCache } from './readcache.js';
import { decodeValue, type StoreValue } from './values.js';
import { versionToBytes, type Version } from './version.js';

export interface Entry {
  key: KeyPart[];
  /** pack(key): entries sort by it */
  packed: Buffer;
  value: StoreValue;
}

export interface ListOptions {
  /** Start after this logical key (pagination). */
  after?: LogicalKey;
  limit?: number;
}

/** Reads logical keys at one version. Implemented by Snapshot (committed state) and WriteBatch. */
export interface KeyReader {
  /** The snapshot version: reads see exactly the commits with stamp <= version. */
  readonly version: Version;
  get(key: LogicalKey): Promise<StoreValue | undefined>;
  /**
   * get() of a key that starts with the tuple `prefix`: a reader that holds the prefix's listing
   * answers from it, names that are not there included (optional; get() otherwise).
   */
  getUnder?(prefix: LogicalKey, key: LogicalKey): Promise<StoreValue | undefined>;
  /** Live entries whose key starts with the tuple `prefix`, in key order. */
  list(prefix: LogicalKey, options?: ListOptions): Promise<Entry[]>;
}

const SCAN_BATCH = 512;

/** How a snapshot uses the store's ReadCache: `tag()` names the state it reads, or undefined to bypass. */
export interface SnapshotCache {
  cache: ReadCache;
  tag: () => string | undefined;
}

/**
 * The committed state of one namespace at one version. Reading a key is one reverse seek for the
 * greatest stamp <= version — the same work at head and ten thousand commits back.
 */
export class Snapshot implements KeyReader {
  private readonly stamp: Buffer;

  constructor(
    private readonly kv: KvReader,
    private readonly nsId: number,
    readonly version: Version,
    private readonly cache?: SnapshotCache,
  ) {
    this.stamp = versionToBytes(version);
  }

  async get(key: LogicalKey): Promise<StoreValue | undefined> {
    return this.getPacked(packLogical(key));
  }

  /**
   * get() of `key`, which starts with `prefix`: when the cache holds the prefix's listing at this
   * state, the listing answers — a name not in it is absent, without a read (git and tar look up
   * each name before they create it; a lookup in a directory the mount listed or made is in memory).
   */
  async getUnder(prefix: LogicalKey, key: LogicalKey): Promise<StoreValue | undefined> {
    return this.getPacked(packLogical(key), prefix);
  }

  /** get() of a packed key; `under`: a prefix of it whose cached listing may answer (getUnder). */
  async getPacked(packed: Buffer, under?: LogicalKey): Promise<StoreValue | undefined> {
    const tag = this.cache?.tag();
    if (tag !== undefined) {
      const cache = this.cache!.cache;
      const hit = cache.get(this.nsId, tag, packed);
      if (hit !== undefined) return hit ?? undefined;
      const listed = under ? cache.getInList(this.nsId, tag, packLogical(under), packed) : undefined;
      if (listed !== undefined) return listed ?? undefined;
    }
    const base = dataKeyBase(this.nsId, packed);
    const rows = await this.kv.getRange(base, dataSeekEnd(base, this.stamp), { reverse: true, limit: 1 });
    const value = rows.length === 0 ? null : decodeValue(rows[0]!.value);
    // the tag again: the state may have moved on while we awaited (then the value is not filed)
    const after = this.cache?.tag();
    if (after !== undefined && after === tag) this.cache!.cache.set(this.nsId, after, packed, value);
    return value ?? undefined;
  }

  /**
   * Scans every stored version under the prefix in key order and keeps, per logical key, the newest
   * stamp <= version. Cost is proportional to the versions stored under the prefix (GC trims them).
   */
  async list(prefix: LogicalKey, options: ListOptions = {}): Promise<Entry[]> {
    // from the cache: a whole listing answers a first page too; what is read whole is filed
    const tag = options.after ? undefined : this.cache?.tag();
    const packed = tag !== undefined ? packLogical(prefix) : undefined;
    if (tag !== undefined) {
      const hit = this.cache!.cache.getList(this.nsId, tag, packed!);
      if (hit) return hit.slice(0, options.limit ?? hit.length);
    }
    const { begin, end } = dataRange(this.nsId, prefix);
    let cursor = options.after ? Buffer.concat([dataPrefix(this.nsId), packLogical(options.after), Buffer.from([0x01])]) : begin;
    if (Buffer.compare(cursor, begin) < 0) cursor = begin;
    const out = await this.scan(cursor, end, options.limit ?? Infinity);
    // the tag again: the state may have moved on while we awaited (then the listing is not filed)
    if (tag !== undefined && options.limit === undefined && this.cache!.tag() === tag) this.cache!.cache.setList(this.nsId, tag, prefix, packed!, out.slice());
    return out;
  }

  /**
   * Live entries with from <= key < to (logical keys, tuple order), as list() reads them: one range
   * scan instead of a point read per key — how a directory's inodes are fetched together.
   */
  async listRange(from: LogicalKey, to: LogicalKey): Promise<Entry[]> {
    const p = dataPrefix(this.nsId);
    return this.scan(Buffer.concat([p, packLogical(from)]), Buffer.concat([p, packLogical(to)]), Infinity);
  }

  private async scan(start: Buffer, end: Buffer, limit: number): Promise<Entry[]> {
    const dp = dataPrefix(this.nsId).length;
    let cursor = start;
    const out: Entry[] = [];
    let currentLogical: Buffer | null = null;
    let currentRaw: Buffer | null = null;
    const flush = (): void => {
      if (currentLogical && currentRaw) {
        const value = decodeValue(currentRaw);
        if (value !== null) out.push({ key: unpackLogical(currentLogical), packed: currentLogical, value });
      }
    };
    for (;;) {
      const rows = await this.kv.getRange(cursor, end, { limit: SCAN_BATCH });
      for (const row of rows) {
        const logical = row.key.subarray(dp, row.key.length - STAMP_LEN - 1);
        const stamp = row.key.subarray(row.key.length - STAMP_LEN);
        if (!currentLogical || !logical.equals(currentLogical)) {
          flush();
          if (out.length >= limit) return out;
          currentLogical = Buffer.from(logical);
          currentRaw = null;
        }
        if (Buffer.compare(stamp, this.stamp) <= 0) currentRaw = row.value;
      }
      if (rows.length < SCAN_BATCH) break;
      cursor = Buffer.concat([rows[rows.length - 1]!.key, Buffer.from([0x00])]);
    }
    flush();
    return out.length > limit ? out.slice(0, limit) : out;
  }
}
