import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteEngine } from '../src/kv/sqlite.js';
import { SqlDatabase } from '../src/sqlvfs/database.js';
import { DirBlobStore } from '../src/store/blobs/dir.js';
import { Store } from '../src/store/store.js';
import { fmt, interleave, printTable, sample, stats, type Row } from './harness.js';

const openStore = (dir: string) => new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')) });
const kvBytes = (dir: string): number => {
  const db = new Database(path.join(dir, 'kv.sqlite3'), { readonly: true });
  const n = (db.prepare('SELECT sum(length(k) + length(v)) AS n FROM kv').get() as { n: number }).n;
  db.close();
  return n;
};

export async function benchSql(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sql-'));
  const rows: Row[] = [];
  const store = openStore(dir);
  try {
    const ours = await SqlDatabase.open(store, 'sql:bench/app', 'app', { create: true });
    const native = new Database(path.join(dir, 'native.db'));
    native.pragma('journal_mode = WAL');
    native.pragma('synchronous = NORMAL');
    const schema = 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)';
    ours.query(schema);
    native.exec(schema);
    const nIns = native.prepare('INSERT INTO t (name, score) VALUES (?, ?)');
    const nSel = native.prepare('SELECT name, score FROM t WHERE id = ?');

    // --- single-row insert commits/s, side by side ---
    const ins = await interleave(
      {
        timefs: (i) => ours.query('INSERT INTO t (name, score) VALUES (?, ?)', [`user ${i}`, i]),
        native: (i) => nIns.run(`user ${i}`, i),
      },
      10,
      500,
    );
    const insT = stats(ins.timefs!);
    const insN = stats(ins.native!);
    rows.push({
      bench: 'single-row INSERT (autocommit) commits/s: timefs ÷ better-sqlite3 on a local file (WAL)',
      result: `${(insN.median / insT.median).toFixed(2)} (${Math.round(1000 / insT.median)}/s vs ${Math.round(1000 / insN.median)}/s)`,
    });

    // --- write amplification: bytes stored per one-row commit ---
    const before = kvBytes(dir);
    for (let i = 0; i < 500; i++) ours.query('INSERT INTO t (name, score) VALUES (?, ?)', [`amp ${i}`, i]);
    const perCommit = (kvBytes(dir) - before) / 500;
    rows.push({ bench: 'bytes stored per one-row INSERT commit (pages deflated; 3 raw page copies would be 12,288)', result: `${Math.round(perCommit).toLocaleString('en-US')} B` });

    // --- point selects ---
    const total = ours.all('SELECT max(id) AS n FROM t')[0]!.n as number;
    const sel = await interleave(
      {
        timefs: (i) => ours.query('SELECT name, score FROM t WHERE id = ?', [1 + ((i * 7919) % total)]),
        native: (i) => nSel.get(1 + ((i * 7919) % total)),
      },
      10,
      2000,
    );
    const selT = stats(sel.timefs!);
    const selN = stats(sel.native!);
    rows.push({
      bench: 'point SELECT by primary key ops/s: timefs ÷ better-sqlite3',
      result: `${(selN.median / selT.median).toFixed(2)} (${Math.round(1000 / selT.median).toLocaleString('en-US')}/s vs ${Math.round(1000 / selN.median).toLocaleString('en-US')}/s)`,
    });

    // --- point select 10,000 commits back vs head (cold page cache on both: fresh connections) ---
    const hot = await SqlDatabase.open(store, 'sql:bench/hist', 'hist', { create: true });
    hot.query('CREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT)');
    hot.query('BEGIN');
    for (let i = 0; i < 1000; i++) hot.query('INSERT INTO k (v) VALUES (?)', [`initial ${i}`]);
    hot.query('COMMIT');
    const old = hot.committed!;
    for (let i = 0; i < 10_000; i++) hot.query('UPDATE k SET v = ? WHERE id = ?', [`update ${i}`, 1 + (i % 1000)]);
    const openAt = (version?: string) => SqlDatabase.open(store, 'sql:bench/hist', 'hist', { ...(version ? { version: version as never } : {}), cachePages: 2 });
    const headDb = await openAt();
    const pastDb = await openAt(old);
    const pv = await interleave(
      {
        head: (i) => headDb.query('SELECT v FROM k WHERE id = ?', [1 + ((i * 31) % 1000)]),
        past: (i) => pastDb.query('SELECT v FROM k WHERE id = ?', [1 + ((i * 31) % 1000)]),
      },
      10,
      1000,
    );
    const ratio = stats(pv.past!).median / stats(pv.head!).median;
    rows.push({
      bench: 'point SELECT at a version 10,000 commits back ÷ at head, open connections (head re-checks for new commits per transaction)',
      result: `${ratio.toFixed(2)} (${fmt(stats(pv.past!).median)} vs ${fmt(stats(pv.head!).median)})`,
      target: '≤ 1.1',
      ok: ratio <= 1.1,
    });
    // every page from the store: a fresh connection per query
    const fresh = await interleave(
      {
        head: async (i) => {
          const d = await openAt();
          d.query('SELECT v FROM k WHERE id = ?', [1 + ((i * 31) % 1000)]);
          d.close();
        },
        past: async (i) => {
          const d = await openAt(old);
          d.query('SELECT v FROM k WHERE id = ?', [1 + ((i * 31) % 1000)]);
          d.close();
        },
      },
      10,
      200,
    );
    const coldRatio = stats(fresh.past!).median / stats(fresh.head!).median;
    rows.push({
      bench: 'the same with a fresh connection per query (every page read from the store): past ÷ head',
      result: `${coldRatio.toFixed(2)} (${fmt(stats(fresh.past!).median)} vs ${fmt(stats(fresh.head!).median)})`,
      target: '≤ 1.1',
      ok: coldRatio <= 1.1,
    });

    // --- open + first query on a cold database (a fresh store handle: nothing cached) ---
    for (let i = 0; i < 300; i++) {
      const d = await SqlDatabase.open(store, `sql:bench/cold${i}`, `cold${i}`, { create: true });
      d.query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('x')");
      d.close();
    }
    const cold = openStore(dir);
    const firsts = stats(
      await sample(async (i) => {
        const d = await SqlDatabase.open(cold, `sql:bench/cold${i}`, `cold${i}`);
        d.query('SELECT v FROM t WHERE id = 1');
        d.close();
      }, 300),
    );
    rows.push({ bench: 'open + first query on a cold database: median / p99', result: `${fmt(firsts.median)} / ${fmt(firsts.p99)}`, target: '< 5 ms', ok: firsts.p99 < 5 });
    await cold.close();

    // --- memory: 1,000 open databases on the one WASM module ---
    const rss0 = process.memoryUsage().rss;
    const many: SqlDatabase[] = [];
    for (let i = 0; i < 1000; i++) {
      const d = await SqlDatabase.open(store, `sql:bench/cold${i % 300}`, `m${i}`);
      d.query('SELECT v FROM t WHERE id = 1');
      many.push(d);
    }
    const perDb = (process.memoryUsage().rss - rss0) / 1000;
    rows.push({ bench: '1,000 open databases (one query each): RSS per database', result: `${(perDb / 1024).toFixed(0)} KiB` });
    for (const d of many) d.close();
    native.close();
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) printTable('sql', await benchSql());
