import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fmt, interleave, printTable, stats, type Row } from './harness.js';

/**
 * Which table layout the SQLite engine uses: the store's hot operation is a reverse seek
 * `k <= ? ORDER BY k DESC LIMIT 1`, over small values (metadata) and up to 64 KiB (inline content). This
 * measures that seek on both layouts, for small (64 B) and page-sized (4 KiB) values.
 */
export async function benchKvLayout(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-layout-'));
  const rows: Row[] = [];
  try {
    for (const size of [64, 4096]) {
      const dbs = {
        withoutRowid: new Database(path.join(dir, `wr-${size}.db`)),
        rowidUnique: new Database(path.join(dir, `ri-${size}.db`)),
      };
      dbs.withoutRowid.exec('CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
      dbs.rowidUnique.exec('CREATE TABLE kv (id INTEGER PRIMARY KEY, k BLOB NOT NULL UNIQUE, v BLOB NOT NULL)');
      const N = 50_000;
      const key = (i: number): Buffer => {
        const b = Buffer.alloc(24);
        b.write('ns/key/', 0);
        b.writeUInt32BE(i % 5000, 8);
        b.writeUInt32BE(i, 16);
        return b;
      };
      const value = Buffer.alloc(size, 1);
      for (const db of Object.values(dbs)) {
        db.pragma('journal_mode = WAL');
        const ins = db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)');
        db.transaction(() => {
          for (let i = 0; i < N; i++) ins.run(key(i), value);
        })();
      }
      const seek = (db: Database.Database) => {
        const st = db.prepare('SELECT k, v FROM kv WHERE k <= ? ORDER BY k DESC LIMIT 1').raw(true);
        return (i: number) => st.get(key((i * 7919) % N));
      };
      const r = await interleave({ withoutRowid: seek(dbs.withoutRowid), rowidUnique: seek(dbs.rowidUnique) }, 10, 2000);
      const a = stats(r.withoutRowid!);
      const b = stats(r.rowidUnique!);
      rows.push({
        bench: `reverse seek, ${size} B values: WITHOUT ROWID ÷ rowid+UNIQUE (median)`,
        result: `${(a.median / b.median).toFixed(2)} (${fmt(a.median)} vs ${fmt(b.median)})`,
      });
      Object.values(dbs).forEach((db) => db.close());
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('kv layout', await benchKvLayout());
}
