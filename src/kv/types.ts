/**
 * The kv/ engine contract: an ordered map of byte keys to byte values with serializable
 * transactions. Every engine (SQLite, FoundationDB, in-memory) implements exactly this, and one
 * conformance suite (test/kv/conformance.ts) holds them to it.
 *
 * Invariants every engine keeps:
 *  - keys compare as unsigned bytes (memcmp order), so tuple-encoded keys sort identically everywhere;
 *  - `transact` runs its function in a serializable transaction that sees its own writes, and either
 *    applies every write or none;
 *  - versionstamped writes are the only way the commit version enters keys or values: the engine
 *    fills a 10-byte placeholder (8-byte commit version, big-endian, + 2-byte batch order) at commit,
 *    and every later commit gets a strictly greater stamp.
 */
export interface KvPair {
  key: Buffer;
  value: Buffer;
}

export interface RangeOptions {
  /** Return pairs from the end of the range first. */
  reverse?: boolean;
  /** At most this many pairs (default: all). */
  limit?: number;
}

export interface KvReader {
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Pairs with begin <= key < end, in key order (or reverse). */
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]>;
}

export interface KvTransaction extends KvReader {
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  /** Clears begin <= key < end. */
  clearRange(begin: Buffer, end: Buffer): void;
  /**
   * At commit, sets the key `prefix ‖ stamp ‖ suffix` to value. Not readable inside this transaction.
   * The engine may keep `value` itself until then: the caller must not change it.
   */
  setVersionstampedKey(prefix: Buffer, suffix: Buffer, value: Buffer): void;
  /** At commit, sets key to `prefix ‖ stamp ‖ suffix`. Not readable inside this transaction. */
  setVersionstampedValue(key: Buffer, prefix: Buffer, suffix: Buffer): void;
}

export interface TransactResult<T> {
  value: T;
  /** The 10-byte commit stamp, or null when the transaction wrote nothing versionstamped. */
  stamp: Buffer | null;
}

/** A transaction of the synchronous API: the same operations, without promises. */
export interface KvSyncTransaction {
  get(key: Buffer): Buffer | undefined;
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): KvPair[];
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  setVersionstampedKey(prefix: Buffer, suffix: Buffer, value: Buffer): void;
  setVersionstampedValue(key: Buffer, prefix: Buffer, suffix: Buffer): void;
}

/**
 * Synchronous access, offered only by embedded engines (SQLite): for callers that cannot await,
 * like SQLite's VFS in the sync WebAssembly build (sqlvfs/). Same invariants as the async API.
 */
export interface KvSync {
  get(key: Buffer): Buffer | undefined;
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): KvPair[];
  /**
   * Runs fn in a transaction and commits it, all before returning. Throws KvBusyError when an
   * async transaction of this process is open (it spans awaits, and one connection cannot nest
   * transactions): the caller backs off and retries, as SQLite callers do on SQLITE_BUSY.
   */
  transact<T>(fn: (tx: KvSyncTransaction) => T): TransactResult<T>;
}

export class KvBusyError extends Error {
  constructor() {
    super('the kv engine is busy with another transaction of this process; retry');
    this.name = 'KvBusyError';
  }
}

export interface KvEngine {
  /** 'sqlite' | 'memory' | 'fdb' */
  readonly kind: string;
  /** present on embedded engines only (see KvSync) */
  readonly sync?: KvSync;
  /**
   * The newest commit version of the whole engine, when the engine can tell cheaply. Every later
   * commit gets a greater one, so any version up to it is a settled state in every namespace.
   */
  latestCommitVersion?(): bigint;
  /**
   * Runs fn in a serializable transaction and commits it. Engines with optimistic concurrency
   * (FoundationDB) may call fn more than once, so fn must not have side effects outside `tx`.
   * A thrown error aborts the transaction and is rethrown unchanged.
   */
  transact<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<TransactResult<T>>;
  /**
   * Optional group commit (the embedded engine): runs the functions in order in one transaction;
   * each function's versionstamped writes get their own strictly greater commit version, visible
   * to the functions after it. All or nothing. FoundationDB has one versionstamp per transaction,
   * so it does not offer this.
   */
  transactGroup?<T>(fns: ReadonlyArray<(tx: KvTransaction) => Promise<T>>): Promise<Array<TransactResult<T>>>;
  /**
   * Makes every transaction that has resolved durable against power loss (the embedded engine:
   * COMMITs a deferred transaction and fsyncs the WAL). Absent where every commit is durable when it
   * resolves (FoundationDB) or nothing is (memory).
   */
  persist?(): Promise<void>;
  /**
   * True when transactions resolve before their COMMIT (the embedded engine's deferred commit):
   * commits already share one write of the disk, so a caller need not hold one back to group it.
   */
  readonly defersCommit?: boolean;
  /** A read of the latest committed state, outside any transaction. */
  get(key: Buffer): Promise<Buffer | undefined>;
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]>;
  close(): Promise<void>;
}

export const STAMP_LENGTH = 10;
