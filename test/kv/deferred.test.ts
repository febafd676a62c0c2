import path from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('kv-deferred');
let n = 0;
const open: SqliteEngine[] = [];
const engine = (file: string, options: { commitDelayMs?: number; onDeferredCommitError?: (err: Error) => void } = {}): SqliteEngine => {
  const e = new SqliteEngine({ file, ...options });
  open.push(e);
  return e;
};
const put = (e: SqliteEngine, key: string, value: Buffer | string) => e.transact(async (tx) => tx.set(Buffer.from(key), Buffer.from(value)));
const read = async (e: SqliteEngine, key: string) => (await e.get(Buffer.from(key)))?.toString();

afterEach(async () => {
  for (const e of open.splice(0)) await e.close().catch(() => {});
});

describe('SQLite engine: deferred commit (what the FUSE mount runs)', () => {
  it('resolves before the COMMIT, which follows within the delay; flush/persist commit at once', async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const writer = engine(file, { commitDelayMs: 300 });
    const other = engine(file); // another connection: sees only what is COMMITted
    await put(writer, 'a', '1');
    expect(await read(writer, 'a')).toBe('1'); // this process sees its own writes at once
    expect(await read(other, 'a')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 500));
    expect(await read(other, 'a')).toBe('1');

    await put(writer, 'b', '2');
    expect(await read(other, 'b')).toBeUndefined();
    await writer.persist();
    expect(await read(other, 'b')).toBe('2');

    await put(writer, 'c', '3');
    await writer.close();
    expect(await read(other, 'c')).toBe('3');
  });

  it('a failing transaction undoes only its own writes; the ones before it still commit', async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const writer = engine(file, { commitDelayMs: 10_000 });
    await put(writer, 'kept', 'yes');
    await expect(
      writer.transact(async (tx) => {
        tx.set(Buffer.from('undone'), Buffer.from('no'));
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const stamped = await writer.transact(async (tx) => tx.setVersionstampedKey(Buffer.from('v/'), Buffer.alloc(0), Buffer.from('x')));
    await writer.close();
    const again = engine(file);
    expect(await read(again, 'kept')).toBe('yes');
    expect(await read(again, 'undone')).toBeUndefined();
    const rows = await again.getRange(Buffer.from('v/'), Buffer.from('v0'));
    expect(rows.map((r) => r.key.subarray(2).equals(stamped.stamp!))).toEqual([true]);
  });

  it('synchronous transactions join the deferred transaction instead of refusing', async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const writer = engine(file, { commitDelayMs: 10_000 });
    await put(writer, 'async', '1');
    const result = writer.sync.transact((tx) => {
      tx.set(Buffer.from('sync'), Buffer.from('2'));
      return tx.get(Buffer.from('async'))?.toString();
    });
    expect(result.value).toBe('1');
    await writer.close();
    const again = engine(file);
    expect([await read(again, 'async'), await read(again, 'sync')]).toEqual(['1', '2']);
  });

  it('reports acknowledged transactions as lost when SQLite rolls the deferred transaction back (disk full)', async () => {
    const file = path.join(dir, `db-${n++}.sqlite3`);
    const errors: Error[] = [];
    const writer = engine(file, { commitDelayMs: 10_000, onDeferredCommitError: (e) => errors.push(e) });
    await put(writer, 'seed', 'x');
    await writer.persist();
    await put(writer, 'acknowledged', 'y');
    // fault injection: the database may not grow, so the next big write fails with SQLITE_FULL,
    // which makes SQLite roll back the whole open transaction
    const db = (writer as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 1}`);
    await expect(put(writer, 'big', Buffer.alloc(1 << 20))).rejects.toThrow(/full/i);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/acknowledged in the last 10000 ms are lost/)]);
    db.pragma('max_page_count = 1073741823');
    await put(writer, 'after', 'z'); // the engine goes on with a new transaction
    await writer.close();
    const again = engine(file);
    expect([await read(again, 'seed'), await read(again, 'acknowledged'), await read(again, 'after')]).toEqual(['x', undefined, 'z']);
  });
});
