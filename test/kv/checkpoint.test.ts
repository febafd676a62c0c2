import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { tempDir } from '../helpers/tmp.js';

describe('SQLite engine: WAL checkpoints from a worker thread', () => {
  it('keeps the WAL bounded without checkpointing inside COMMIT, and loses nothing', async () => {
    const file = path.join(tempDir('ckpt'), 'kv.sqlite3');
    const engine = new SqliteEngine({ file });
    const value = Buffer.alloc(600, 7);
    for (let i = 0; i < 6000; i++) {
      await engine.transact(async (tx) => {
        for (let j = 0; j < 4; j++) tx.set(Buffer.from(`k${i}-${j}`), value);
      });
      // let the worker's answers arrive, as a server's event loop would between requests
      if (i % 64 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 300));
    const wal = fs.statSync(`${file}-wal`).size;
    // unchecked, 6,000 commits of ~4 pages grow the WAL past 100 MB (measured: 53 MB after 3,000)
    expect(wal).toBeLessThan(40 * 1024 * 1024);
    expect((await engine.getRange(Buffer.from('k'), Buffer.from('l'))).length).toBe(24_000);
    await engine.close();
    // a fresh connection (another process) sees every commit
    const again = new SqliteEngine({ file });
    expect((await again.get(Buffer.from('k5999-3')))?.equals(value)).toBe(true);
    await again.close();
  });
});
