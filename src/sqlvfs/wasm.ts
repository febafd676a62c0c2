import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { WaSqliteModule } from 'wa-sqlite/dist/wa-sqlite.mjs';
import { C } from './constants.js';

export type SqlValue = number | string | Uint8Array | null | bigint;

/** A SQL value as JSON can carry it: bytes as base64, integers beyond 2^53 as strings. */
export const jsonSqlValue = (v: SqlValue): string | number | null =>
  v instanceof Uint8Array ? Buffer.from(v).toString('base64') : typeof v === 'bigint' ? v.toString() : v;

export class SqliteError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

/**
 * A synchronous binding to SQLite compiled to WebAssembly (wa-sqlite's sync build). wa-sqlite's
 * own API wraps every call in a promise; the sync build does not need that, and a synchronous API
 * is what lets an app handler in isolated-vm run SQL as a plain function call. One module (one
 * WASM instance) serves every database of the process: calls are synchronous, so two connections
 * never run at once on it.
 */
export class SqliteWasm {
  private readonly tmp: number;
  private readonly f;

  constructor(readonly module: WaSqliteModule) {
    const m = module;
    this.tmp = m._malloc(8);
    const w = (name: string, ret: string | null, args: string[]) => m.cwrap(name, ret, args);
    this.f = {
      open: w('sqlite3_open_v2', 'number', ['string', 'number', 'number', 'number']),
      close: w('sqlite3_close', 'number', ['number']),
      errmsg: (db: number) => m.ccall('sqlite3_errmsg', 'string', ['number'], [db]) as unknown as string,
      prepare: w('sqlite3_prepare_v2', 'number', ['number', 'number', 'number', 'number', 'number']),
      step: w('sqlite3_step', 'number', ['number']),
      reset: w('sqlite3_reset', 'number', ['number']),
      finalize: w('sqlite3_finalize', 'number', ['number']),
      changes: w('sqlite3_changes', 'number', ['number']),
      autocommit: w('sqlite3_get_autocommit', 'number', ['number']),
      paramCount: w('sqlite3_bind_parameter_count', 'number', ['number']),
      paramName: w('sqlite3_bind_parameter_name', 'number', ['number', 'number']),
      bindNull: w('sqlite3_bind_null', 'number', ['number', 'number']),
      bindInt: w('sqlite3_bind_int', 'number', ['number', 'number', 'number']),
      bindInt64: w('sqlite3_bind_int64', 'number', ['number', 'number', 'number', 'number']),
      bindDouble: w('sqlite3_bind_double', 'number', ['number', 'number', 'number']),
      bindText: w('sqlite3_bind_text', 'number', ['number', 'number', 'number', 'number', 'number']),
      bindBlob: w('sqlite3_bind_blob', 'number', ['number', 'number', 'number', 'number', 'number']),
      colCount: w('sqlite3_column_count', 'number', ['number']),
      colName: w('sqlite3_column_name', 'number', ['number', 'number']),
      colType: w('sqlite3_column_type', 'number', ['number', 'number']),
      colInt64: w('sqlite3_column_int64', 'number', ['number', 'number']),
      colDouble: w('sqlite3_column_double', 'number', ['number', 'number']),
      colText: w('sqlite3_column_text', 'number', ['number', 'number']),
      colBlob: w('sqlite3_column_blob', 'number', ['number', 'number']),
      colBytes: w('sqlite3_column_bytes', 'number', ['number', 'number']),
    };
  }

  private check(rc: number, db: number, allowed: number[] = [C.OK]): number {
    if (allowed.includes(rc)) return rc;
    throw new SqliteError(db ? this.f.errmsg(db) : `sqlite error ${rc}`, rc);
  }

  open(name: string, flags: number, vfs: string): number {
    const zVfs = this.cstr(vfs);
    try {
      const rc = this.f.open(name, this.tmp, flags, zVfs);
      const db = this.module.getValue(this.tmp, '*');
      if (rc !== C.OK) {
        const msg = db ? this.f.errmsg(db) : `cannot open ${name}`;
        if (db) this.f.close(db);
        throw new SqliteError(msg, rc);
      }
      return db;
    } finally {
      this.module._free(zVfs);
    }
  }

  close(db: number): void {
    this.f.close(db);
  }

  autocommit(db: number): boolean {
    return this.f.autocommit(db) !== 0;
  }

  changes(db: number): number {
    return this.f.changes(db);
  }

  private cstr(s: string): number {
    const n = this.module.lengthBytesUTF8(s) + 1;
    const p = this.module._malloc(n);
    this.module.stringToUTF8(s, p, n);
    return p;
  }

  /**
   * Runs every statement of `sql`; parameters bind to the last statement that takes any. Returns
   * the rows of the last statement that produced columns.
   */
  run(db: number, sql: string, params: ReadonlyArray<SqlValue> | Record<string, SqlValue> = []): { columns: string[]; rows: SqlValue[][]; changes: number } {
    const zSql = this.cstr(sql);
    const end = zSql + this.module.lengthBytesUTF8(sql);
    let result: { columns: string[]; rows: SqlValue[][] } = { columns: [], rows: [] };
    let changes = 0;
    try {
      let tail = zSql;
      while (tail < end) {
        this.check(this.f.prepare(db, tail, end - tail, this.tmp, this.tmp + 4), db);
        const stmt = this.module.getValue(this.tmp, '*');
        tail = this.module.getValue(this.tmp + 4, '*');
        if (!stmt) continue; // whitespace or a comment
        try {
          if (this.f.paramCount(stmt) > 0) this.bindAll(stmt, params);
          const columns: string[] = [];
          const n = this.f.colCount(stmt);
          for (let i = 0; i < n; i++) columns.push(this.module.UTF8ToString(this.f.colName(stmt, i)));
          const rows: SqlValue[][] = [];
          for (;;) {
            const rc = this.check(this.f.step(stmt), db, [C.ROW, C.DONE]);
            if (rc === C.DONE) break;
            const row: SqlValue[] = [];
            for (let i = 0; i < n; i++) row.push(this.column(stmt, i));
            rows.push(row);
          }
          if (n > 0) result = { columns, rows };
          changes = this.f.changes(db);
        } finally {
          this.f.finalize(stmt);
        }
      }
    } finally {
      this.module._free(zSql);
    }
    return { ...result, changes };
  }

  private bindAll(stmt: number, params: ReadonlyArray<SqlValue> | Record<string, SqlValue>): void {
    const n = this.f.paramCount(stmt);
    if (Array.isArray(params)) {
      if (params.length !== n) throw new SqliteError(`the statement takes ${n} parameter(s), ${params.length} given`, C.RANGE);
      params.forEach((v, i) => this.bind(stmt, i + 1, v));
      return;
    }
    const named = params as Record<string, SqlValue>;
    for (let i = 1; i <= n; i++) {
      const p = this.f.paramName(stmt, i);
      const name = p ? this.module.UTF8ToString(p) : '';
      const key = name.replace(/^[:@$]/, '');
      if (!(key in named)) throw new SqliteError(`missing value for parameter ${name || `?${i}`}`, C.RANGE);
      this.bind(stmt, i, named[key]!);
    }
  }

  private bind(stmt: number, i: number, v: SqlValue): void {
    const m = this.module;
    let rc: number;
    if (v === null || v === undefined) rc = this.f.bindNull(stmt, i);
    else if (typeof v === 'boolean') rc = this.f.bindInt(stmt, i, v ? 1 : 0);
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) rc = this.f.bindInt(stmt, i, v);
      else if (Number.isSafeInteger(v)) rc = this.bindBig(stmt, i, BigInt(v));
      else rc = this.f.bindDouble(stmt, i, v);
    } else if (typeof v === 'bigint') rc = this.bindBig(stmt, i, v);
    else if (typeof v === 'string') {
      const n = m.lengthBytesUTF8(v);
      const p = m._malloc(n + 1);
      m.stringToUTF8(v, p, n + 1);
      rc = this.f.bindText(stmt, i, p, n, -1); // SQLITE_TRANSIENT: SQLite copies
      m._free(p);
    } else if (v instanceof Uint8Array) {
      const p = m._malloc(Math.max(1, v.length));
      m.HEAPU8.set(v, p);
      rc = this.f.bindBlob(stmt, i, p, v.length, -1);
      m._free(p);
    } else throw new SqliteError(`cannot bind a ${typeof v} (parameter ${i}): use numbers, strings, null or bytes`, C.MISMATCH);
    if (rc !== C.OK) throw new SqliteError(`binding parameter ${i} failed (${rc})`, rc);
  }

  private bindBig(stmt: number, i: number, v: bigint): number {
    const lo = Number(v & 0xffffffffn);
    const hi = Number((v >> 32n) & 0xffffffffn);
    return this.f.bindInt64(stmt, i, lo | 0, hi | 0);
  }

  private column(stmt: number, i: number): SqlValue {
    switch (this.f.colType(stmt, i)) {
      case C.INTEGER: {
        const lo = this.f.colInt64(stmt, i) >>> 0;
        const hi = this.module.getTempRet0() | 0;
        const big = (BigInt(hi) << 32n) | BigInt(lo);
        return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case C.FLOAT:
        return this.f.colDouble(stmt, i);
      case C.TEXT:
        return this.module.UTF8ToString(this.f.colText(stmt, i), this.f.colBytes(stmt, i));
      case C.BLOB: {
        const n = this.f.colBytes(stmt, i);
        const p = this.f.colBlob(stmt, i);
        return new Uint8Array(this.module.HEAPU8.subarray(p, p + n));
      }
      default:
        return null;
    }
  }
}

let loading: Promise<SqliteWasm> | undefined;

/** The process's one SQLite WASM module, loaded on first use (~30 ms). */
export function loadSqlite(): Promise<SqliteWasm> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasmBinary = fs.readFileSync(require.resolve('wa-sqlite/dist/wa-sqlite.wasm'));
    const { default: factory } = await import('wa-sqlite/dist/wa-sqlite.mjs');
    return new SqliteWasm(await factory({ wasmBinary }));
  })();
  return loading;
}
