import { createHash } from 'node:crypto';
import type { KvEngine } from '../kv/types.js';
import { Lru } from '../util/lru.js';
import type { BlobStore } from './blobs/types.js';
import { StoreError } from './errors.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { changeKey, namespacePrefix, nsCounterKey, prefixEnd, registryKey, registryNameOf, registryPrefix } from './keys.js';
import { Namespace, writeCommitRecords, type NamespaceHost, type NamespaceRecord } from './namespace.js';
import { ReadCache } from './readcache.js';
import { BlobRef } from './values.js';

export interface StoreOptions {
  kv: KvEngine;
  blobs: BlobStore;
  /** ms since epoch (default Date.now); tests inject a clock to travel in time. */
  clock?: () => number;
  /** Default retention window, ms (default 30 days). */
  retentionMs?: number;
  /** Bytes of chunk content cached in memory (default 64 MiB). Chunks are immutable, so never stale. */
  blobCacheBytes?: number;
  /** Namespace handles kept open (default 10,000); a handle is a few hundred bytes. */
  namespaceCacheSize?: number;
  /**
   * Bytes of decoded values (inodes, directory entries, file blocks up to 1/8 of it) cached for
   * reads (default 128 MiB; 0 = off). Sized for what was just written being read back: after a
   * 5,000-file (55 MB) untar through the mount, the kernel asks again for every page its
   * write-through left incomplete, and with 32 MiB most of those blocks had been evicted.
   */
  readCacheBytes?: number;
}

export const DEFAULT_RETENTION_MS = 30 * 24 * 3600 * 1000;
const NAME_RE = /^[^\u0000-\u001f\u007f]{1,200}$/;

export interface NamespaceInfo {
  name: string;
  id: number;
  created: Date;
  retentionMs: number;
}

/**
 * The versioned store: namespaces over one kv engine, plus the content-addressed blob store.
 * Versions are store-wide (one stamp names the same instant in every namespace of the store).
 */
export class Store implements NamespaceHost {
  readonly kv: KvEngine;
  readonly blobs: BlobStore;
  readonly clock: () => number;
  readonly defaultRetentionMs: number;
  private readonly namespaces: Lru<string, Namespace>;
  private readonly blobCache: Lru<string, Buffer>;
  /**
   * Chunk loads under way, by hash. The kernel reads a file ahead in several 128 KiB READs at once,
   * all inside one 1 MiB chunk: without this each of them loaded the whole chunk (a cold read of a
   * 500 MB file read 4 GB from the blob directory). Invariant: an entry lives only while its load
   * runs; a failed load is not remembered.
   */
  private readonly blobLoads = new Map<string, Promise<Buffer>>();
  readonly readCache: ReadCache;

  constructor(options: StoreOptions) {
    this.kv = options.kv;
    this.blobs = options.blobs;
    this.clock = options.clock ?? Date.now;
    this.defaultRetentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.namespaces = new Lru(options.namespaceCacheSize ?? 10_000);
    this.blobCache = new Lru(options.blobCacheBytes ?? 64 * 1024 * 1024, (b) => b.length);
    this.readCache = new ReadCache(options.readCacheBytes ?? 128 * 1024 * 1024);
  }

  forget(name: string): void {
    this.namespaces.peek(name)?.invalidate();
    this.namespaces.delete(name);
  }

  async beforeCommit(): Promise<void> {
    await this.blobs.sync?.();
  }

  private validateName(name: string): void {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new StoreError('INVALID_NAME', `invalid namespace name ${JSON.stringify(name)}: 1–200 characters, no control characters`);
    }
  }

  /** Creates a namespace; its first commit ("namespace created") makes it readable at once. */
  async createNamespace(name: string, options: { retentionMs?: number } = {}): Promise<Namespace> {
    this.validateName(name);
    const now = this.clock();
    const { value: record } = await this.kv.transact(async (tx) => {
      if (await tx.get(registryKey(name))) throw new StoreError('NAMESPACE_EXISTS', `namespace '${name}' already exists`);
      const last = await tx.get(nsCounterKey);
      const id = (last ? Number(last.toString()) : 0) + 1;
      tx.set(nsCounterKey, Buffer.from(String(id)));
      const rec: NamespaceRecord = { id, created: now, ...(options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {}) };
      tx.set(registryKey(name), Buffer.from(JSON.stringify(rec)));
      writeCommitRecords(tx, id, BigInt(Math.round(now * 1000)), { t: Math.round(now), a: 'store', s: `create namespace ${name}`, p: [] });
      return rec;
    });
    const ns = new Namespace(this, name, record);
    this.namespaces.set(name, ns);
    return ns;
  }

  /** Opens an existing namespace: one point read on a cache miss, nothing on a hit. */
  async namespace(name: string): Promise<Namespace> {
    const cached = this.namespaces.get(name);
    if (cached) return cached;
    this.validateName(name);
    const raw = await this.kv.get(registryKey(name));
    if (!raw) throw new StoreError('UNKNOWN_NAMESPACE', `unknown namespace '${name}'`);
    const ns = new Namespace(this, name, JSON.parse(raw.toString()) as NamespaceRecord);
    this.namespaces.set(name, ns);
    return ns;
  }

  /** Cached namespaces exist (deleteNamespace forgets them); others cost one point read. */
  async hasNamespace(name: string): Promise<boolean> {
    if (this.namespaces.peek(name)) return true;
    return (await this.kv.get(registryKey(name))) !== undefined;
  }

  async openOrCreate(name: string): Promise<Namespace> {
    try {
      return await this.namespace(name);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'UNKNOWN_NAMESPACE')) throw err;
      try {
        return await this.createNamespace(name);
      } catch (e) {
        if (e instanceof StoreError && e.code === 'NAMESPACE_EXISTS') return this.namespace(name);
        throw e;
      }
    }
  }

  async listNamespaces(prefix = ''): Promise<NamespaceInfo[]> {
    const rows = await this.kv.getRange(registryPrefix, prefixEnd(registryPrefix));
    return rows
      .map((r) => {
        const name = registryNameOf(r.key);
        const rec = JSON.parse(r.value.toString()) as NamespaceRecord;
        return { name, id: rec.id, created: new Date(rec.created), retentionMs: rec.retentionMs ?? this.defaultRetentionMs };
      })
      .filter((n) => n.name.startsWith(prefix));
  }

  /** Deletes a namespace and all its versions (its chunks go at the next GC). */
  async deleteNamespace(name: string): Promise<void> {
    await this.kv.transact(async (tx) => {
      const raw = await tx.get(registryKey(name));
      if (!raw) throw new StoreError('UNKNOWN_NAMESPACE', `unknown namespace '${name}'`);
      const { id } = JSON.parse(raw.toString()) as NamespaceRecord;
      tx.clear(registryKey(name));
      const p = namespacePrefix(id);
      tx.clearRange(p, prefixEnd(p));
      tx.setVersionstampedValue(changeKey, Buffer.alloc(0), Buffer.alloc(0));
    });
    this.forget(name);
  }

  /** Sets (ms) or clears (null) a namespace's retention override. */
  async setRetention(name: string, retentionMs: number | null): Promise<void> {
    if (retentionMs !== null && (!Number.isFinite(retentionMs) || retentionMs < 0)) {
      throw new StoreError('INVALID_NAME', `invalid retention ${retentionMs}: a non-negative number of milliseconds`);
    }
    await this.kv.transact(async (tx) => {
      const raw = await tx.get(registryKey(name));
      if (!raw) throw new StoreError('UNKNOWN_NAMESPACE', `unknown namespace '${name}'`);
      const rec = JSON.parse(raw.toString()) as NamespaceRecord;
      if (retentionMs === null) delete rec.retentionMs;
      else rec.retentionMs = retentionMs;
      tx.set(registryKey(name), Buffer.from(JSON.stringify(rec)));
    });
    this.forget(name);
  }

  /** Stores content as a chunk (idempotent) and returns the reference to commit. */
  async putBlob(data: Buffer): Promise<BlobRef> {
    const hash = createHash('sha256').update(data).digest('hex');
    await this.blobs.put(hash, data);
    this.blobCache.set(hash, data);
    return new BlobRef(hash, data.length);
  }

  async getBlob(ref: BlobRef): Promise<Buffer> {
    const cached = this.blobCache.get(ref.hash);
    if (cached) return cached;
    let load = this.blobLoads.get(ref.hash);
    if (!load) {
      load = this.blobs.get(ref.hash).then(
        (data) => {
          this.blobLoads.delete(ref.hash);
          this.blobCache.set(ref.hash, data);
          return data;
        },
        (err: unknown) => {
          this.blobLoads.delete(ref.hash);
          throw err;
        },
      );
      this.blobLoads.set(ref.hash, load);
    }
    return load;
  }

  /** Trims history outside every namespace's retention, then sweeps unreferenced chunks. */
  gc(options: GcOptions = {}): Promise<GcReport> {
    return collectGarbage(this, options);
  }

  /** Makes every commit so far durable against power loss (chunks are durable before their commit). */
  async sync(): Promise<void> {
    await this.kv.persist?.();
  }

  async close(): Promise<void> {
    await this.blobs.close();
    await this.kv.close();
  }
}
