import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeStamp } from './bytes.js';
import { Checkpointer, JOURNAL_SIZE_LIMIT_BYTES } from './checkpointer.js';
import { Mutex } from './mutex.js';
import { StampCollector, nextCommitVersion, nowMicros, resolveStamped } from './stamped.js';
import { KvBusyError, type KvEngine, type KvPair, type KvSync, type KvSyncTransaction, type KvTransaction, type RangeOptions, type TransactResult } from './types.js';

export interface SqliteEngineOptions {
  /** Database file; ':memory:' for a private in-memory database. */
  file: string;
  /**
   * 'normal' (default): WAL with synchronous=NORMAL — a commit survives a process crash at once and
   * a power loss after the next checkpoint or `persist()`. 'full': every commit is fsynced.
   */
  synchronous?: 'normal' | 'full';
  /** How long a writer waits for another process's write lock, ms. */
  busyTimeoutMs?: number;
  /** WAL checkpoints from a worker thread instead of inside COMMIT (default true; see checkpointer.ts). */
  checkpointInWorker?: boolean;
  /**
   * 0 (default): every transaction is COMMITted before it resolves. > 0: deferred commit — a
   * transaction resolves once its writes are in the open SQLite transaction, which is COMMITted
   * this many ms after it began, at `persist()` or at `close()`. See begin().
   */
  commitDelayMs?: number;
  /**
   * A deferred COMMIT failed (disk full, I/O error): the transactions it held had resolved, and
   * they are lost. Default: thrown from the event loop, so the process stops rather than serve a
   * state the disk does not have.
   */
  onDeferredCommitError?: (err: Error) => void;
}

type Row = [Buffer, Buffer];

/** Range statements with a literal LIMIT kept per engine (see SqliteEngine.literalLimit). */
const LITERAL_LIMITS = 16;

/** The engine's statements, as a transaction uses them (inside the open SQLite transaction). */
interface SqliteAccess {
  get(key: Buffer): Buffer | undefined;
  range(begin: Buffer, end: Buffer, options?: RangeOptions): KvPair[];
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  clearRange(begin: Buffer, end: Buffer): void;
}

class SqliteTransaction extends StampCollector implements KvTransaction {
  constructor(private readonly db: SqliteAccess) {
    super();
  }
  async get(key: Buffer): Promise<Buffer | undefined> {
    return this.db.get(key);
  }
  async getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]> {
    return this.db.range(begin, end, options);
  }
  set(key: Buffer, value: Buffer): void {
    this.db.set(key, value);
  }
  clear(key: Buffer): void {
    this.db.clear(key);
  }
  clearRange(begin: Buffer, end: Buffer): void {
    this.db.clearRange(begin, end);
  }
}

class SqliteSyncTransaction extends StampCollector implements KvSyncTransaction {
  constructor(private readonly db: SqliteAccess) {
    super();
  }
  get(key: Buffer): Buffer | undefined {
    return this.db.get(key);
  }
  getRange(begin: Buffer, end: Buffer, options?: RangeOptions): KvPair[] {
    return this.db.range(begin, end, options);
  }
  set(key: Buffer, value: Buffer): void {
    this.db.set(key, value);
  }
  clear(key: Buffer): void {
    this.db.clear(key);
  }
}

/**
 * The default embedded engine. One rowid table with a UNIQUE index on k. Measured by
 * bench/kv-layout.ts (reverse seeks, the store's hot path): for 64-byte values WITHOUT ROWID is ~8%
 * faster, for 4 KiB values (inline file content) the rowid layout is ~3x faster, because big values
 * no longer thin out the key b-tree. The rowid layout is the robust choice for our mix.
 *
 * Transactions: BEGIN IMMEDIATE takes SQLite's write lock, so transactions from other processes
 * (the CLI next to a running server) serialize; the in-process mutex keeps this process's
 * transactions from interleaving across awaits. The commit version lives in table `meta` and is
 * max(previous + 1, now µs), assigned at commit while the write lock is held.
 */
export class SqliteEngine implements KvEngine {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private readonly mutex = new Mutex();
  private readonly stmt;
  private readonly checkpointer: Checkpointer | null = null;
  private readonly file: string;
  private readonly commitDelayMs: number;
  private readonly onDeferredCommitError: (err: Error) => void;
  /** KvEngine.defersCommit: transactions resolve before their COMMIT (commitDelayMs > 0). */
  get defersCommit(): boolean {
    return this.commitDelayMs > 0;
  }
  /** range statements by literal limit (negative: reverse); see literalLimit() */
  private readonly literalLimits = new Map<number, Database.Statement>();
  /** the COMMIT timer of the open deferred transaction; null when none is open */
  private deferred: NodeJS.Timeout | null = null;

  constructor(options: SqliteEngineOptions) {
    this.file = options.file;
    this.commitDelayMs = options.commitDelayMs ?? 0;
    this.onDeferredCommitError =
      options.onDeferredCommitError ??
      ((err) =>
        process.nextTick(() => {
          throw err;
        }));
    if (options.file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    // Statement journals (the undo images of a SAVEPOINT; every deferred commit is one) in memory:
    // by default one spills to a temp file past 64 KiB, and then it is not truncated at RELEASE but
    // grows for the whole deferred transaction — row writes inside a savepoint took twice as long.
    this.db.pragma('temp_store = MEMORY');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    if (options.file !== ':memory:' && options.checkpointInWorker !== false) {
      this.db.pragma('wal_autocheckpoint = 0');
      this.db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
      const wal = `${path.resolve(options.file)}-wal`;
      this.checkpointer = new Checkpointer(
        path.resolve(options.file),
        () => {
          if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
        },
        () => {
          if (!this.db.open || this.db.inTransaction) return true;
          // busy = 1: another connection held the checkpoint lock (SQLite returns at once)
          return (this.db.pragma('wal_checkpoint(PASSIVE)') as { busy: number }[])[0]?.busy !== 1;
        },
        () => fs.statSync(wal, { throwIfNoEntry: false })?.size ?? 0,
      );
    }
    const raw = <T extends Database.Statement>(s: T): T => s.raw(true) as T;
    this.stmt = {
      get: this.db.prepare<[Buffer], { v: Buffer }>('SELECT v FROM kv WHERE k = ?').pluck(true),
      rangeFwd: raw(this.db.prepare<[Buffer, Buffer, number]>('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?')),
      rangeRev: raw(this.db.prepare<[Buffer, Buffer, number]>('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT ?')),
      // the store's hot path (read key K at version S) is a reverse seek for one row: .get() with a
      // literal LIMIT 1 is ~35% faster than .all() with a bound limit (measured)
      seekRev: raw(this.db.prepare<[Buffer, Buffer]>('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k DESC LIMIT 1')),
      seekFwd: raw(this.db.prepare<[Buffer, Buffer]>('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT 1')),
      set: this.db.prepare<[Buffer, Buffer]>('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v'),
      clear: this.db.prepare<[Buffer]>('DELETE FROM kv WHERE k = ?'),
      clearRange: this.db.prepare<[Buffer, Buffer]>('DELETE FROM kv WHERE k >= ? AND k < ?'),
      lastVersion: this.db.prepare("SELECT value FROM meta WHERE name = 'last_version'").pluck(true).safeIntegers(true),
      setLastVersion: this.db.prepare<[bigint]>(
        "INSERT INTO meta (name, value) VALUES ('last_version', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
      ),
    };
  }

  /**
   * What transactions read and write through, made once. A class declared per transaction (as
   * before) gave V8 a new class and object shape for every commit: ~50 µs of a create commit.
   */
  private readonly access: SqliteAccess = {
    get: (key) => this.rawGet(key),
    range: (begin, end, options) => this.rawRange(begin, end, options),
    set: (key, value) => void this.stmt.set.run(key, value),
    clear: (key) => void this.stmt.clear.run(key),
    clearRange: (begin, end) => void this.stmt.clearRange.run(begin, end),
  };

  private rawGet(key: Buffer): Buffer | undefined {
    return (this.stmt.get.get(key) as Buffer | undefined) ?? undefined;
  }

  private rawRange(begin: Buffer, end: Buffer, options: RangeOptions = {}): KvPair[] {
    if (Buffer.compare(begin, end) >= 0) return [];
    if (options.limit === 1) {
      const row = (options.reverse ? this.stmt.seekRev : this.stmt.seekFwd).get(begin, end) as Row | undefined;
      return row ? [{ key: row[0], value: row[1] }] : [];
    }
    const limit = options.limit ?? -1; // SQLite: a negative LIMIT means no limit
    const literal = this.literalLimit(limit, options.reverse === true);
    const rows = (literal ? literal.all(begin, end) : (options.reverse ? this.stmt.rangeRev : this.stmt.rangeFwd).all(begin, end, limit)) as Row[];
    return rows.map(([key, value]) => ({ key, value }));
  }

  /**
   * Range statements with the limit written into the SQL, one per limit in use (the store scans
   * 512 rows at a time), up to LITERAL_LIMITS of them: a bound LIMIT made a range read of a small
   * directory ~25% slower (30 vs 24 µs, measured), as it did for the LIMIT 1 seeks.
   */
  private literalLimit(limit: number, reverse: boolean): Database.Statement | undefined {
    if (limit <= 1 || !Number.isInteger(limit)) return undefined;
    const key = reverse ? -limit : limit;
    let stmt = this.literalLimits.get(key);
    if (!stmt && this.literalLimits.size < LITERAL_LIMITS) {
      stmt = this.db.prepare(`SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k${reverse ? ' DESC' : ''} LIMIT ${limit}`).raw(true);
      this.literalLimits.set(key, stmt);
    }
    return stmt;
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    return this.rawGet(key);
  }

  async getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]> {
    return this.rawRange(begin, end, options);
  }

  transact<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<TransactResult<T>> {
    return this.transactGroup([fn]).then((results) => results[0]!);
  }

  /**
   * Group commit: the functions run in order in ONE SQLite transaction and each one's versionstamped
   * writes get their own, strictly greater commit version (resolved as soon as it returns, so later
   * functions read them). One BEGIN/COMMIT and one write of every page the group shares (log,
   * time index, head, a directory's entries) instead of one per function. All or nothing.
   */
  transactGroup<T>(fns: ReadonlyArray<(tx: KvTransaction) => Promise<T>>): Promise<Array<TransactResult<T>>> {
    return this.mutex.run(async () => {
      this.begin();
      try {
        let previous = this.latestInTransaction();
        let latest: bigint | null = null;
        const results: Array<TransactResult<T>> = [];
        for (const fn of fns) {
          const tx = new SqliteTransaction(this.access);
          const value = await fn(tx);
          const version = this.writeStamped(tx, previous);
          results.push({ value, stamp: version === null ? null : makeStamp(version) });
          if (version !== null) previous = latest = version;
        }
        this.end(latest);
        return results;
      } catch (err) {
        this.abort(err);
        throw err;
      }
    });
  }

  /**
   * Starts a transaction: BEGIN IMMEDIATE (SQLite's write lock), or with deferred commit a
   * SAVEPOINT inside the open deferred transaction (beginning one, and its COMMIT timer, if none
   * is open). Invariant: the deferred transaction holds only transactions that have resolved.
   */
  private begin(): void {
    if (this.commitDelayMs === 0) {
      this.db.exec('BEGIN IMMEDIATE');
      return;
    }
    if (this.deferred === null) {
      this.db.exec('BEGIN IMMEDIATE');
      this.deferred = setTimeout(() => void this.flush().catch(() => {}), this.commitDelayMs);
    }
    this.db.exec('SAVEPOINT tx');
  }

  /** Records the newest commit version (null: no versionstamped writes) and ends the transaction begun by begin(). */
  private end(latest: bigint | null): void {
    if (latest !== null) this.stmt.setLastVersion.run(latest);
    if (this.commitDelayMs > 0) {
      this.db.exec('RELEASE tx');
      return;
    }
    this.db.exec('COMMIT');
    this.checkpointer?.afterCommit();
  }

  /**
   * Undoes the transaction begun by begin(). Some SQLite errors (I/O, disk full) roll back the
   * whole transaction by themselves: with deferred commit that takes resolved transactions with it.
   */
  private abort(err: unknown): void {
    if (this.commitDelayMs === 0) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      return;
    }
    if (this.db.inTransaction) {
      this.db.exec('ROLLBACK TO tx');
      this.db.exec('RELEASE tx');
      return;
    }
    this.lostDeferred(err);
  }

  /** The deferred transaction is gone without its COMMIT: report that its transactions are lost. */
  private lostDeferred(err: unknown): void {
    if (this.deferred) clearTimeout(this.deferred);
    this.deferred = null;
    const reason = err instanceof Error ? err.message : String(err);
    this.onDeferredCommitError(
      new Error(`SQLite rolled back the deferred transaction (${reason}): changes acknowledged in the last ${this.commitDelayMs} ms are lost; check the disk, then restart`),
    );
  }

  /** COMMITs the open deferred transaction (with deferred commit; otherwise there is none). */
  private flush(): Promise<void> {
    return this.mutex.run(async () => {
      if (this.deferred === null) return;
      clearTimeout(this.deferred);
      this.deferred = null;
      try {
        this.db.exec('COMMIT');
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.lostDeferred(err);
        throw err;
      }
      this.checkpointer?.afterCommit();
    });
  }

  /**
   * Makes every transaction so far durable against power loss: flushes, then fsyncs the WAL, where
   * with synchronous=NORMAL committed transactions wait for the next checkpoint. (A checkpoint
   * fsyncs the database before it lets the WAL restart, so what left the WAL is durable already.)
   */
  async persist(): Promise<void> {
    await this.flush();
    if (this.file === ':memory:') return;
    let fd: number;
    try {
      fd = fs.openSync(`${path.resolve(this.file)}-wal`, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The newest commit version, read inside the open transaction (under SQLite's write lock). */
  private latestInTransaction(): bigint {
    return (this.stmt.lastVersion.get() as bigint | undefined) ?? 0n;
  }

  /**
   * Gives a transaction's versionstamped writes the next commit version after `previous` and writes
   * them; returns that version, or null when it had none. Assigned under SQLite's write lock, so
   * versions follow commit order across processes.
   */
  private writeStamped(tx: StampCollector, previous: bigint): bigint | null {
    if (tx.pending.length === 0) return null;
    const version = nextCommitVersion(previous, nowMicros());
    for (const [k, v] of resolveStamped(tx.pending, version)) this.stmt.set.run(k, v);
    return version;
  }

  /**
   * The synchronous API (KvSync). A sync transaction runs entirely inside one call, so it never
   * interleaves with anything; it refuses (KvBusyError) while an async transaction holds the
   * connection across awaits.
   */
  readonly sync: KvSync = {
    get: (key) => this.rawGet(key),
    getRange: (begin, end, options) => this.rawRange(begin, end, options),
    transact: <T>(fn: (tx: KvSyncTransaction) => T): TransactResult<T> => {
      if (this.mutex.busy || (this.db.inTransaction && this.deferred === null)) throw new KvBusyError();
      const tx = new SqliteSyncTransaction(this.access);
      this.begin();
      try {
        const value = fn(tx);
        const version = this.writeStamped(tx, this.latestInTransaction());
        this.end(version);
        return { value, stamp: version === null ? null : makeStamp(version) };
      } catch (err) {
        this.abort(err);
        throw err;
      }
    },
  };

  latestCommitVersion(): bigint {
    return (this.stmt.lastVersion.get() as bigint | undefined) ?? 0n;
  }

  async close(): Promise<void> {
    try {
      if (this.db.open) await this.flush();
    } finally {
      await this.checkpointer?.close();
    }
    await this.mutex.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}
