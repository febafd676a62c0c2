import type { KvSync } from '../kv/types.js';
import { StoreError } from './errors.js';
import { dataKeyBase, dataSeekEnd, metaPrefix, packLogical, pinPrefix, prefixEnd, timeBytes, type LogicalKey } from './keys.js';
import type { CommitMeta } from './batch.js';
import { writeCommitRecords, type Meta, type Namespace } from './namespace.js';
import type { Store } from './store.js';
import { decodeValue, encodeValue, type StoreValue } from './values.js';
import { commitVersionOf, readVersionOf, versionFromBytes, versionToBytes, type Version } from './version.js';

const EMPTY = Buffer.alloc(0);

/**
 * Synchronous reads and commits on one namespace, for callers that cannot await (SQLite's VFS in
 * the sync WebAssembly build: sqlvfs/). Same key layout, log records, time index and head as
 * Namespace.commit — a sync commit is indistinguishable from an async one afterwards. Only the
 * embedded engine offers it.
 *
 * Concurrency is optimistic, as for async commits: `commit` takes the head the caller's reads were
 * based on and fails with CONFLICT if anyone committed since (the caller turns that into
 * SQLITE_BUSY, and the SQLite transaction is retried). The engine may also refuse with KvBusyError
 * while an async transaction of this process is open.
 */
export class SyncNamespace {
  private readonly metaBegin: Buffer;
  private readonly metaEnd: Buffer;

  private constructor(
    private readonly store: Store,
    readonly ns: Namespace,
    private readonly kv: KvSync,
  ) {
    this.metaBegin = metaPrefix(ns.id);
    this.metaEnd = prefixEnd(this.metaBegin);
  }

  /** A logical key packed once, for keys read over and over (database pages). */
  static pack(key: LogicalKey): Buffer {
    return packLogical(key);
  }

  static of(store: Store, ns: Namespace): SyncNamespace {
    if (!store.kv.sync) {
      throw new StoreError('INVALID_NAME', `the ${store.kv.kind} engine has no synchronous access: SQL app databases need the embedded SQLite engine`);
    }
    return new SyncNamespace(store, ns, store.kv.sync);
  }

  meta(): Meta {
    return this.ns.parseMeta(this.kv.getRange(this.metaBegin, this.metaEnd));
  }

  /** Validates a read version like Namespace.snapshot: not from the future, not expired (unless pinned). */
  checkReadable(at: Version, meta: Meta = this.meta()): void {
    if (commitVersionOf(at) > commitVersionOf(meta.head!) && !(commitVersionOf(at) <= (this.store.kv.latestCommitVersion?.() ?? -1n))) {
      throw new StoreError('FUTURE_VERSION', `version ${at} is from the future: the newest version of '${this.ns.name}' is ${readVersionOf(meta.head!)}`);
    }
    if (meta.watermark && at < meta.watermark) {
      const p = pinPrefix(this.ns.id);
      const pinned = this.kv.getRange(p, prefixEnd(p)).some((r) => readVersionOf(versionFromBytes(r.key.subarray(p.length))) === readVersionOf(at));
      if (!pinned) throw new StoreError('VERSION_EXPIRED', this.ns.expiredMessage(at, meta.watermark));
    }
  }

  /** The value of a logical key at a version: one reverse seek, as Snapshot.get. */
  get(key: LogicalKey | Buffer, at: Version): StoreValue | undefined {
    return this.getStored(key, at)?.value;
  }

  /**
   * Like get, with the stored key (logical key + the stamp of the commit that wrote the value):
   * the identity of that value version, for caches — the same stored key never holds other data.
   */
  getStored(key: LogicalKey | Buffer, at: Version): { stored: Buffer; value: StoreValue } | undefined {
    const base = dataKeyBase(this.ns.id, Buffer.isBuffer(key) ? key : packLogical(key));
    const rows = this.kv.getRange(base, dataSeekEnd(base, versionToBytes(at)), { reverse: true, limit: 1 });
    if (rows.length === 0) return undefined;
    const value = decodeValue(rows[0]!.value);
    return value === null ? undefined : { stored: rows[0]!.key, value };
  }

  /**
   * Commits writes (value null = delete) as one new version, if the head is still `baseHeadRaw`.
   * Returns the new read version and the new head record (what meta().headRaw will read).
   */
  commit(baseHeadRaw: Buffer, meta: CommitMeta, writes: Iterable<readonly [LogicalKey | Buffer, StoreValue | null]>): { version: Version; headRaw: Buffer } {
    const clockMicros = BigInt(Math.round(this.store.clock() * 1000));
    const record = { t: 0, a: meta.actor, s: meta.summary, p: (meta.paths ?? []).slice(0, 256) };
    let time = 0n;
    const { stamp } = this.kv.transact((tx) => {
      const rows = tx.getRange(this.metaBegin, this.metaEnd);
      const current = this.ns.parseMeta(rows);
      if (!current.headRaw!.equals(baseHeadRaw)) {
        throw new StoreError('CONFLICT', `'${this.ns.name}' changed since this transaction began; retry it`);
      }
      // commit times are monotonic per namespace, so the time index agrees with version order
      time = clockMicros > current.headTimeMicros ? clockMicros : current.headTimeMicros + 1n;
      record.t = Number(time / 1000n);
      writeCommitRecords(tx, this.ns.id, time, record);
      for (const [key, value] of writes) {
        tx.setVersionstampedKey(dataKeyBase(this.ns.id, Buffer.isBuffer(key) ? key : packLogical(key)), EMPTY, encodeValue(value));
      }
    });
    return { version: readVersionOf(versionFromBytes(stamp!)), headRaw: Buffer.concat([stamp!, timeBytes(time)]) };
  }
}
