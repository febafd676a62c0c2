import { StoreError, SyncNamespace, type Store, type Version } from '../store/index.js';
import { C } from './constants.js';
import { StoreVfs } from './vfs.js';
import { SqliteError, loadSqlite, type SqliteWasm, type SqlValue } from './wasm.js';

export type SqlParams = ReadonlyArray<SqlValue> | Record<string, SqlValue>;

export interface SqlResult {
  columns: string[];
  rows: SqlValue[][];
  /** rows changed by the last statement */
  changes: number;
}

export interface OpenDbOptions {
  /** read-only at this version (default: head, read-write) */
  version?: Version;
  /** create the database if missing (head only) */
  create?: boolean;
  /** commit attribution (default 'sql') */
  actor?: string;
  /** pages SQLite caches per connection (default 256 = 1 MiB) */
  cachePages?: number;
}

interface Engine {
  wasm: SqliteWasm;
  vfs: StoreVfs;
}

let engine: Promise<Engine> | undefined;

function sqlEngine(): Promise<Engine> {
  engine ??= (async () => {
    const wasm = await loadSqlite();
    const vfs = new StoreVfs();
    const rc = wasm.module.registerVFS(vfs, false);
    if (rc !== C.OK) throw new Error(`registering the timefs VFS failed (${rc})`);
    return { wasm, vfs };
  })();
  return engine;
}

let fileCounter = 0;

/** Statements that would break the store's guarantees. */
const REFUSED = [
  { re: /\bjournal_mode\s*=\s*['"]?wal\b/i, why: 'WAL needs shared memory between processes; timefs databases commit atomically to the store instead (the default journal mode is right)' },
  { re: /\bjournal_mode\s*=\s*['"]?off\b/i, why: 'journal_mode=OFF makes ROLLBACK unsafe' },
  { re: /\b(attach|detach)\s+(database\s+)?/i, why: 'ATTACH would reach files outside the app database' },
];

/**
 * One SQLite database whose pages live in a store namespace (StoreVfs), at head (read-write) or
 * at a version (read-only). Calls are synchronous — SQLite runs in WebAssembly on this thread —
 * and each write transaction is one store commit. Open is async only because the WASM module and
 * the namespace load lazily.
 */
export class SqlDatabase {
  private closed = false;
  private lastVersion: Version | null = null;

  private constructor(
    private readonly eng: Engine,
    private readonly db: number,
    private readonly file: string,
    readonly label: string,
    readonly version: Version | undefined,
    private readonly commitMeta: { actor: string; summary: string; paths: string[] },
  ) {}

  static async open(store: Store, namespace: string, label: string, options: OpenDbOptions = {}): Promise<SqlDatabase> {
    const eng = await sqlEngine();
    let ns;
    try {
      ns = options.create && !options.version ? await store.openOrCreate(namespace) : await store.namespace(namespace);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'UNKNOWN_NAMESPACE') throw new SqliteError(`no database '${label}' (it is created by its first write)`, C.CANTOPEN);
      throw err;
    }
    const space = SyncNamespace.of(store, ns);
    if (options.version) space.checkReadable(options.version);
    const file = `d${++fileCounter}.db`;
    const commitMeta = { actor: options.actor ?? 'sql', summary: '', paths: [] as string[] };
    const db_ = { value: null as SqlDatabase | null };
    eng.vfs.bind(file, { space, ...(options.version ? { at: options.version } : {}), commit: commitMeta, onCommit: (v) => db_.value && (db_.value.lastVersion = v) });
    let handle: number;
    try {
      handle = eng.wasm.open(file, options.version ? C.OPEN_READONLY : C.OPEN_READWRITE | C.OPEN_CREATE, 'timefs');
    } catch (err) {
      eng.vfs.unbind(file);
      throw err;
    }
    const d = new SqlDatabase(eng, handle, file, label, options.version, commitMeta);
    db_.value = d;
    eng.wasm.run(handle, `PRAGMA cache_size = ${options.cachePages ?? 256}; PRAGMA temp_store = MEMORY;`);
    return d;
  }

  get readOnly(): boolean {
    return this.version !== undefined;
  }

  /** true inside an explicit transaction (BEGIN without COMMIT/ROLLBACK yet) */
  get inTransaction(): boolean {
    return !this.closed && !this.eng.wasm.autocommit(this.db);
  }

  /** The version the last write of this connection committed (null before any). */
  get committed(): Version | null {
    return this.lastVersion;
  }

  /** Runs SQL (one or more statements; parameters bind to the statement that takes them). */
  query(sql: string, params: SqlParams = []): SqlResult {
    if (this.closed) throw new SqliteError('the database is closed', C.ERROR);
    for (const r of REFUSED) if (r.re.test(sql)) throw new SqliteError(`refused: ${r.why}`, C.ERROR);
    this.commitMeta.summary = `sql ${this.label}: ${sql.replace(/\s+/g, ' ').trim().slice(0, 120)}`;
    try {
      return this.eng.wasm.run(this.db, sql, params);
    } catch (err) {
      if (err instanceof SqliteError) throw this.explain(err);
      throw err;
    }
  }

  /** Rows as objects keyed by column name. */
  all(sql: string, params: SqlParams = []): Array<Record<string, SqlValue>> {
    const r = this.query(sql, params);
    return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]!])));
  }

  /**
   * query() with retries on SQLITE_BUSY for statements outside an explicit transaction: another
   * writer committed first, so the statement runs again on the newer state.
   */
  async queryRetry(sql: string, params: SqlParams = [], attempts = 50): Promise<SqlResult> {
    for (let i = 0; ; i++) {
      try {
        return this.query(sql, params);
      } catch (err) {
        if (!(err instanceof SqliteError) || err.code !== C.BUSY || i >= attempts || !this.eng.wasm.autocommit(this.db)) throw err;
        await new Promise((r) => setTimeout(r, 1 + Math.random() * Math.min(50, 2 * i)));
      }
    }
  }

  private explain(err: SqliteError): SqliteError {
    if ((err.code & 0xff) === C.BUSY) return new SqliteError(`database '${this.label}' is busy: another writer committed first; retry the statement (or the transaction)`, err.code);
    if ((err.code & 0xff) === C.READONLY && this.readOnly) {
      return new SqliteError(`read-only: '${this.label}' is open at past version ${this.version}; write at the current version instead`, err.code);
    }
    return err;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.eng.wasm.close(this.db);
    this.eng.vfs.unbind(this.file);
  }
}

export { SqliteError };
