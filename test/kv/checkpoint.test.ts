import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HARD_LIMIT_BYTES } from '../../src/kv/checkpointer.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { tempDir } from '../helpers/tmp.js';

const value = Buffer.alloc(600, 7);

/** 6,000 commits of 4 rows (~4 WAL pages each); unchecked, that grows the WAL past 100 MB. */
async function commitMany(engine: SqliteEngine): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    await engine.transact(async (tx) => {
      for (let j = 0; j < 4; j++) tx.set(Buffer.from(`k${i}-${j}`), value);
    });
    // let the worker's answers arrive, as a server's event loop would between requests
    if (i % 64 === 0) await new Promise((r) => setImmediate(r));
  }
}

async function expectAllThere(engine: SqliteEngine, file: string): Promise<void> {
  expect((await engine.getRange(Buffer.from('k'), Buffer.from('l'))).length).toBe(24_000);
  await engine.close();
  // a fresh connection (another process) sees every commit
  const again = new SqliteEngine({ file });
  expect((await again.get(Buffer.from('k5999-3')))?.equals(value)).toBe(true);
  await again.close();
}

describe('SQLite engine: WAL checkpoints from a worker thread', () => {
  it('keeps the WAL bounded without checkpointing inside COMMIT, and loses nothing', async () => {
    const file = path.join(tempDir('ckpt'), 'kv.sqlite3');
    const engine = new SqliteEngine({ file });
    await commitMany(engine);
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.statSync(`${file}-wal`).size).toBeLessThan(HARD_LIMIT_BYTES + 8 * 1024 * 1024);
    await expectAllThere(engine, file);
  });

  it('keeps it bounded while the disk is slow: commits wait for the checkpoint instead', async () => {
    // other processes fsyncing 64 MiB at a time make each of the worker's fsyncs slow; without
    // backpressure the main thread outran it to 48–58 MB of WAL (measured, 4 runs of 4)
    const dir = tempDir('ckpt-slow');
    const file = path.join(dir, 'kv.sqlite3');
    const hogs = [1, 2].map((n) =>
      spawn('sh', ['-c', `while :; do dd if=/dev/zero of=${dir}/hog${n} bs=1M count=64 conv=fsync status=none; done`], { stdio: 'ignore', detached: true }),
    );
    try {
      await new Promise((r) => setTimeout(r, 200));
      const engine = new SqliteEngine({ file });
      let peak = 0;
      const watch = setInterval(() => (peak = Math.max(peak, fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0)), 5);
      await commitMany(engine);
      clearInterval(watch);
      peak = Math.max(peak, fs.statSync(`${file}-wal`).size);
      expect(peak).toBeLessThan(HARD_LIMIT_BYTES + 8 * 1024 * 1024);
      await expectAllThere(engine, file);
    } finally {
      for (const h of hogs) if (h.pid) process.kill(-h.pid, 'SIGKILL');
    }
  }, 60_000);
});
