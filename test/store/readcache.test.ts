import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { StoreError } from '../../src/store/errors.js';
import { Store } from '../../src/store/store.js';
import type { WriteBatch } from '../../src/store/batch.js';
import { readVersionOf, type Version } from '../../src/store/version.js';
import { TestClock } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

const str = (v: unknown): string | undefined => (Buffer.isBuffer(v) ? v.toString() : undefined);

/** Two stores on one SQLite file: what two processes (a mount and the CLI) see of each other. */
function twoStores(clock?: TestClock): [Store, Store] {
  const dir = tempDir('readcache');
  const open = (): Store =>
    new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs'), { fsync: false }), ...(clock ? { clock: clock.fn } : {}) });
  return [open(), open()];
}

/** Counts kv range reads, to prove the cache answers (and stops answering when it must not). */
function countReads(store: Store): { reads: number } {
  const counter = { reads: 0 };
  const kv = store.kv as unknown as { getRange: (...a: unknown[]) => Promise<unknown> };
  const original = kv.getRange.bind(kv);
  kv.getRange = (...a: unknown[]) => {
    counter.reads++;
    return original(...a);
  };
  return counter;
}

describe('read cache', () => {
  it('answers repeated head reads from memory, writes through its own commits, and sees other writers at once', async () => {
    const [a, b] = twoStores();
    const nsA = await a.createNamespace('n');
    await nsA.commit({ actor: 't', summary: 'seed' }, async (w) => w.set(['k'], Buffer.from('v1')));
    const nsB = await b.namespace('n');
    const reads = countReads(a);

    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v1');
    const before = reads.reads;
    for (let i = 0; i < 10; i++) expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v1');
    expect(reads.reads).toBe(before); // no kv read at all: meta and value from memory

    // our own commit: the new value is served without a read
    await nsA.commit({ actor: 't', summary: 'own' }, async (w) => w.set(['k'], Buffer.from('v2')));
    const afterCommit = reads.reads;
    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v2');
    expect(reads.reads).toBe(afterCommit);

    // another process commits: the next head read sees it
    await nsB.commit({ actor: 't', summary: 'other' }, async (w) => w.set(['k'], Buffer.from('v3')));
    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v3');
    // ...and a commit of ours built on a stale view conflicts and retries on the real head
    await nsB.commit({ actor: 't', summary: 'other 2' }, async (w) => w.set(['k'], Buffer.from('v4')));
    await nsA.commit({ actor: 't', summary: 'append' }, async (w) => w.set(['k'], Buffer.from(`${str(await w.get(['k']))}+a`)));
    expect(str(await (await nsB.snapshot()).get(['k']))).toBe('v4+a');
    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v4+a');
    // a snapshot taken before a commit keeps reading its own version, cache or not
    const old = await nsA.snapshot();
    await nsA.commit({ actor: 't', summary: 'next' }, async (w) => w.set(['k'], Buffer.from('v5')));
    expect(str(await old.get(['k']))).toBe('v4+a');
    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v5');
    await a.close();
    await b.close();
  });

  it('with maxStaleMs, a head read skips the check for other writers for that long, never for its own commits', async () => {
    const [a, b] = twoStores();
    const nsA = await a.createNamespace('n');
    await nsA.commit({ actor: 't', summary: 'seed' }, async (w) => w.set(['k'], Buffer.from('v1')));
    const nsB = await b.namespace('n');
    const stale = { maxStaleMs: 300 };
    expect(str(await (await nsA.snapshot(undefined, stale)).get(['k']))).toBe('v1');
    // another process commits: within the window the head this process knew is read (a
    // consistent older state); a read without the option sees the new head at once
    await nsB.commit({ actor: 't', summary: 'other' }, async (w) => w.set(['k'], Buffer.from('v2')));
    expect(str(await (await nsA.snapshot(undefined, stale)).get(['k']))).toBe('v1');
    expect(str(await (await nsA.snapshot()).get(['k']))).toBe('v2');
    await nsB.commit({ actor: 't', summary: 'other 2' }, async (w) => w.set(['k'], Buffer.from('v3')));
    expect(str(await (await nsA.snapshot(undefined, stale)).get(['k']))).toBe('v2');
    // after the window it is seen
    await new Promise((r) => setTimeout(r, 350));
    expect(str(await (await nsA.snapshot(undefined, stale)).get(['k']))).toBe('v3');
    // our own commit is seen at once (and one built on a stale head conflicts and retries)
    await nsB.commit({ actor: 't', summary: 'other 3' }, async (w) => w.set(['k'], Buffer.from('v4')));
    await nsA.commit({ actor: 't', summary: 'own' }, async (w) => w.set(['k'], Buffer.from(`${str(await w.get(['k']))}+a`)));
    expect(str(await (await nsA.snapshot(undefined, stale)).get(['k']))).toBe('v4+a');
    await a.close();
    await b.close();
  });

  it('caches absent keys and past versions without ever answering wrongly', async () => {
    const [a, b] = twoStores();
    const ns = await a.createNamespace('n');
    const versions: Version[] = [];
    for (let i = 0; i < 5; i++) versions.push((await ns.commit({ actor: 't', summary: `${i}` }, async (w) => w.set(['k'], Buffer.from(`v${i}`)))).version!);
    expect(await (await ns.snapshot()).get(['missing'])).toBeUndefined();
    await (await b.namespace('n')).commit({ actor: 't', summary: 'create' }, async (w) => w.set(['missing'], Buffer.from('here')));
    expect(str(await (await ns.snapshot()).get(['missing']))).toBe('here');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5; i++) expect(str(await (await ns.snapshot(readVersionOf(versions[i]!))).get(['k']))).toBe(`v${i}`);
    }
    await a.close();
    await b.close();
  });

  it('a commit that fails on the head this process knew is tried again on the real head when another process committed since', async () => {
    const [a, b] = twoStores();
    const nsA = await a.createNamespace('n');
    await nsA.commit({ actor: 't', summary: 'seed' }, async (w) => w.set(['k'], Buffer.from('v1')));
    await (await nsA.snapshot()).get(['k']); // the head this process knows: no 'made' yet
    // another process makes what the next commit needs (a file written through the mount)
    await (await b.namespace('n')).commit({ actor: 't', summary: 'make' }, async (w) => w.set(['made'], Buffer.from('here')));
    const removeMade = async (w: WriteBatch): Promise<string> => {
      const value = await w.get(['made']);
      if (value === undefined) throw new Error('ENOENT: nothing to remove');
      w.delete(['made']);
      return str(value)!;
    };
    // built first on the head this process knew, it fails there; it must not fail for good
    const res = await nsA.commit({ actor: 't', summary: 'remove' }, removeMade);
    expect(res.value).toBe('here');
    expect(await (await (await b.namespace('n')).snapshot()).get(['made'])).toBeUndefined();
    // a failure on the real head is final, and is the function's own error
    await expect(nsA.commit({ actor: 't', summary: 'remove again' }, removeMade)).rejects.toThrow('ENOENT: nothing to remove');
    await a.close();
    await b.close();
  });

  it('notices a watermark raised and a namespace deleted by another process', async () => {
    const clock = new TestClock();
    const day = 24 * 3600 * 1000;
    const [a, b] = twoStores(clock);
    const ns = await a.createNamespace('n', { retentionMs: 2 * day });
    const versions: Version[] = [];
    for (let i = 0; i < 6; i++) {
      clock.advance(day);
      versions.push((await ns.commit({ actor: 't', summary: `${i}` }, async (w) => w.set(['k'], Buffer.from(`v${i}`)))).version!);
    }
    const early = readVersionOf(versions[0]!);
    expect(str(await (await ns.snapshot(early)).get(['k']))).toBe('v0'); // cached now
    await b.gc({ graceMs: 0 });
    await expect(ns.snapshot(early)).rejects.toThrow(/version expired/);

    await (await ns.snapshot()).get(['k']);
    await b.deleteNamespace('n');
    const err = await ns.snapshot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('UNKNOWN_NAMESPACE');
    await a.close();
    await b.close();
  });

  it('stays within its byte budget and keeps answering correctly while it evicts', async () => {
    const dir = tempDir('readcache-small');
    const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')), readCacheBytes: 8192 });
    const ns = await store.createNamespace('n');
    await ns.commit({ actor: 't', summary: 'seed' }, async (w) => {
      for (let i = 0; i < 500; i++) w.set(['k', i], Buffer.from(`value ${i}`));
    });
    for (let round = 0; round < 3; round++) {
      const snap = await ns.snapshot();
      for (let i = 0; i < 500; i += round + 1) expect(str(await snap.get(['k', i]))).toBe(`value ${i}`);
      expect(store.readCache.bytes).toBeLessThanOrEqual(8192);
    }
    await store.close();
  });

  it('can be turned off (readCacheBytes: 0): every read goes to the engine', async () => {
    const dir = tempDir('readcache-off');
    const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')), readCacheBytes: 0 });
    const ns = await store.createNamespace('n');
    await ns.commit({ actor: 't', summary: 'seed' }, async (w) => w.set(['k'], Buffer.from('v')));
    const reads = countReads(store);
    for (let i = 0; i < 3; i++) expect(str(await (await ns.snapshot()).get(['k']))).toBe('v');
    expect(reads.reads).toBe(6); // meta + value, each time
    await store.close();
  });

  it('keeps what was committed when the caller reuses its buffer afterwards (the engine and the cache keep no view of it)', async () => {
    const [a, b] = twoStores();
    const ns = await a.createNamespace('n');
    const data = Buffer.alloc(8000, 'a'); // file-block sized: the store takes it without a copy of its own
    await ns.commit({ actor: 't', summary: 'w' }, async (w) => w.set(['k'], data));
    data.fill('z');
    const cached = await (await ns.snapshot()).get(['k']);
    expect(Buffer.isBuffer(cached) && cached.every((c) => c === 0x61)).toBe(true);
    const stored = await (await (await b.namespace('n')).snapshot()).get(['k']);
    expect(Buffer.isBuffer(stored) && stored.length === 8000 && stored.every((c) => c === 0x61)).toBe(true);
    await a.close();
    await b.close();
  });
});
