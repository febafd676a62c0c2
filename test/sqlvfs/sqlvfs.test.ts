import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqlDatabase } from '../../src/sqlvfs/database.js';
import { restoreDatabase } from '../../src/sqlvfs/names.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { Store } from '../../src/store/store.js';
import { readVersionOf } from '../../src/store/version.js';
import { makeStore } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';
import { cliBuilt } from '../helpers/cli.js';

const NS = 'sql:test/app';
const open = (store: Store, opts = {}) => SqlDatabase.open(store, NS, 'app', { create: true, ...opts });

describe('sqlvfs: SQLite on versioned pages', () => {
  it('a transaction is one store commit; ROLLBACK leaves nothing; a big transaction (journal path) commits whole', async () => {
    const store = makeStore();
    const db = await open(store, { cachePages: 10 });
    db.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const ns = await store.namespace(NS);
    const before = (await ns.log({ limit: 1000 })).length;
    db.query('BEGIN; INSERT INTO t (v) VALUES (?);', ['a']);
    db.query("INSERT INTO t (v) VALUES ('b'); COMMIT");
    expect((await ns.log({ limit: 1000 })).length).toBe(before + 1);
    db.query("BEGIN; INSERT INTO t (v) VALUES ('gone'); ROLLBACK");
    expect((await ns.log({ limit: 1000 })).length).toBe(before + 1);
    expect(db.all('SELECT v FROM t ORDER BY id').map((r) => r.v)).toEqual(['a', 'b']);
    // far more than 10 cached pages: SQLite spills through its journal and syncs; still one commit
    db.query('BEGIN');
    for (let i = 0; i < 2000; i++) db.query('INSERT INTO t (v) VALUES (?)', [`${i} `.repeat(40)]);
    db.query('COMMIT');
    expect((await ns.log({ limit: 10_000 })).length).toBeLessThanOrEqual(before + 3);
    expect(db.all('SELECT count(*) AS n FROM t')).toEqual([{ n: 2002 }]);
    expect(db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const fresh = await open(store);
    expect(fresh.all('SELECT count(*) AS n FROM t')).toEqual([{ n: 2002 }]);
    // shrinking (VACUUM truncates the file) keeps it consistent
    fresh.query('DELETE FROM t WHERE id > 10; VACUUM');
    expect(fresh.all('SELECT count(*) AS n FROM t; PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(fresh.all('SELECT count(*) AS n FROM t')).toEqual([{ n: 10 }]);
  });

  it('every version reads back as it was: 300 commits, each read at its version', async () => {
    const store = makeStore();
    const db = await open(store);
    db.query('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)');
    const versions: string[] = [];
    for (let i = 0; i < 300; i++) {
      db.query('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v', [`k${i % 17}`, i]);
      versions.push(db.committed!);
    }
    for (const i of [0, 1, 16, 17, 150, 299]) {
      const past = await open(store, { version: versions[i] });
      const sum = past.all('SELECT count(*) AS n, max(v) AS top FROM kv')[0]!;
      expect(sum).toEqual({ n: Math.min(i + 1, 17), top: i });
      expect(() => past.query("INSERT INTO kv VALUES ('x', 1)")).toThrow(/read-only: 'app' is open at past version [0-9a-f]{20}/);
      past.close();
    }
  });

  it('restores a database as it was at a version: one commit, open connections see it, their caches stay right after', async () => {
    const store = makeStore();
    const a = await open(store);
    const b = await open(store);
    a.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    a.query("INSERT INTO t (v) VALUES ('one')");
    const v1 = a.committed!;
    const rows = (db: SqlDatabase) => db.all('SELECT v FROM t ORDER BY id').map((r) => r.v);
    // b reads a state after v1, so SQLite keeps those pages cached across its transactions
    a.query("INSERT INTO t (v) VALUES ('two')");
    expect(rows(b)).toEqual(['one', 'two']);
    const ns = await store.namespace(NS);
    const before = (await ns.log({ limit: 100 })).length;
    const r = await restoreDatabase(store, 'test', 'app', v1, { actor: 't', summary: 'restore' });
    expect(r.version).not.toBeNull();
    expect((await ns.log({ limit: 100 })).length).toBe(before + 1);
    expect(rows(a)).toEqual(['one']);
    // a commit on top of the restored state: SQLite's change counter must not repeat the one b
    // cached with 'two' (it would keep its stale pages and answer ['one', 'two'])
    a.query("INSERT INTO t (v) VALUES ('three')");
    expect(rows(b)).toEqual(['one', 'three']);
    expect(b.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    // nothing was lost: the state it replaced is one version back
    const old = await open(store, { version: r.before });
    expect(rows(old)).toEqual(['one', 'two']);
    old.close();
    // a dropped table comes back; restoring to the state it is in changes nothing
    const v3 = a.committed!;
    a.query('DROP TABLE t');
    expect(() => rows(b)).toThrow(/no such table/);
    await restoreDatabase(store, 'test', 'app', v3, { actor: 't', summary: 'restore' });
    expect(rows(b)).toEqual(['one', 'three']);
    expect((await restoreDatabase(store, 'test', 'app', v3, { actor: 't', summary: 'again' })).version).toBeNull();
    a.close();
    b.close();
  });

  it('concurrent writers get SQLITE_BUSY and retry; no update is lost', async () => {
    const store = makeStore();
    const a = await open(store);
    a.query('CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO c VALUES (1, 0)');
    const b = await open(store);
    // a reads in a transaction, b commits, a's write on the stale snapshot is BUSY
    a.query('BEGIN');
    expect(a.all('SELECT n FROM c')).toEqual([{ n: 0 }]);
    b.query('UPDATE c SET n = n + 1');
    expect(() => a.query('UPDATE c SET n = n + 10')).toThrow(/busy: another writer committed first/);
    a.query('ROLLBACK');
    a.query('UPDATE c SET n = n + 10');
    expect(b.all('SELECT n FROM c')).toEqual([{ n: 11 }]);
    // many interleaved read-modify-write transactions from 4 connections, with retries
    const conns = [a, b, await open(store), await open(store)];
    await Promise.all(
      conns.map(async (c, k) => {
        for (let i = 0; i < 25; i++) {
          for (let attempt = 0; ; attempt++) {
            try {
              c.query('BEGIN');
              const n = c.all('SELECT n FROM c')[0]!.n as number;
              await new Promise((r) => setTimeout(r, (i + k) % 3)); // let others interleave
              c.query('UPDATE c SET n = ?', [n + 1]);
              c.query('COMMIT');
              break;
            } catch (err) {
              c.query('ROLLBACK');
              if (!/busy/.test((err as Error).message) || attempt > 200) throw err;
            }
          }
        }
      }),
    );
    expect(a.all('SELECT n FROM c')).toEqual([{ n: 111 }]);
  });

  it('refuses what would break the guarantees, with clear errors', async () => {
    const store = makeStore();
    const db = await open(store);
    expect(() => db.query('PRAGMA journal_mode=WAL')).toThrow(/refused: WAL/);
    expect(() => db.query('PRAGMA journal_mode = off')).toThrow(/refused: journal_mode=OFF/);
    expect(() => db.query("ATTACH DATABASE 'x.db' AS x")).toThrow(/refused: ATTACH/);
    expect(() => db.query('SELEKT 1')).toThrow(/syntax error/);
    expect(() => db.query('SELECT ?', [])).toThrow(/takes 1 parameter/);
    await expect(SqlDatabase.open(store, 'sql:test/nope', 'nope')).rejects.toThrow(/no database 'nope'/);
    await expect(open(store, { version: 'ffffffffffffffffffff' })).rejects.toThrow(/from the future/);
  });

  it('keeps page write amplification in check: a one-row insert stores far less than its page copies', async () => {
    const store = makeStore();
    const db = await open(store);
    db.query('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    for (let i = 0; i < 500; i++) db.query('INSERT INTO t (v) VALUES (?)', [`value number ${i}`]);
    const kv = store.kv as SqliteEngine;
    const size = () => (kv as unknown as { db: { prepare(s: string): { get(): { n: number } } } }).db.prepare('SELECT sum(length(v)) AS n FROM kv').get().n;
    const before = size();
    for (let i = 0; i < 100; i++) db.query('INSERT INTO t (v) VALUES (?)', [`another value ${i}`]);
    const perInsert = (size() - before) / 100;
    // each insert rewrites ~3 pages (12 KiB raw); deflated, far less is stored
    expect(perInsert).toBeLessThan(4096);
  });

  it.runIf(cliBuilt())('crash safety: SIGKILL during a write loop loses no acknowledged transaction; integrity_check passes at head and old versions', async () => {
    const dir = tempDir('sql-crash');
    const script = fileURLToPath(new URL('../fixtures/sql-writer.mjs', import.meta.url));
    const acked: number[] = [];
    let next = 1;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, [script, dir, String(next)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) acked.push(Number(l));
      });
      // kill at a random moment once it is writing (startup time varies with machine load)
      const had = acked.length;
      for (let i = 0; i < 600 && acked.length === had; i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      next = (acked.at(-1) ?? 0) + 1000;
    }
    expect(acked.length).toBeGreaterThanOrEqual(8);
    const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')) });
    const db = await SqlDatabase.open(store, 'sql:crash/app', 'app');
    expect(db.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const ids = new Set(db.all('SELECT id FROM t').map((r) => r.id as number));
    for (const id of acked) expect(ids.has(id), `acknowledged row ${id}`).toBe(true);
    // old versions are whole databases too
    const log = await (await store.namespace('sql:crash/app')).log({ limit: 100_000 });
    for (const rec of [log[0], log[Math.floor(log.length / 2)], log[log.length - 3]]) {
      const past = await SqlDatabase.open(store, 'sql:crash/app', 'app', { version: readVersionOf(rec!.version) });
      expect(past.all('PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      past.close();
    }
  });
});
