import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { StoreError } from '../../src/store/errors.js';
import { packLogical } from '../../src/store/keys.js';
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

  it('keeps listings up to date through its own commits, lists a new directory without reading it, and never lists wrongly', async () => {
    // a model of every committed state, against listings answered by a store with the cache
    // (and another "process" committing on the same file now and then)
    const [a, b] = twoStores();
    const nsA = await a.createNamespace('n');
    const nsB = await b.namespace('n');
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const model = new Map<string, string>(); // JSON of the logical key -> value
    const states: Array<{ version: Version; model: Map<string, string> }> = [];
    const prefixes: Array<Array<string | number>> = [['e'], ['e', 1], ['e', 2], ['e', 3], ['x', 1]];
    let fresh = 100;
    const randomKey = (): Array<string | number> => {
      const p = prefixes[1 + rand(prefixes.length - 1)]!;
      return rand(4) === 0 ? [...p, `n${rand(6)}`, rand(3)] : [...p, `n${rand(6)}`];
    };
    const listed = async (snap: Awaited<ReturnType<typeof nsA.snapshot>>, prefix: Array<string | number>, limit?: number): Promise<string[]> =>
      (await snap.list(prefix, limit === undefined ? {} : { limit })).map((e) => `${JSON.stringify(e.key)}=${str(e.value)}`);
    const expected = (m: Map<string, string>, prefix: Array<string | number>): string[] => {
      const under = [...m].filter(([k]) => {
        const key = JSON.parse(k) as unknown[];
        return key.length > prefix.length && prefix.every((p, i) => key[i] === p);
      });
      // key order: the same tuple order the store sorts by, for these keys
      const packed = (k: string): Buffer => packLogical(JSON.parse(k) as Array<string | number>);
      return under.sort(([x], [y]) => Buffer.compare(packed(x), packed(y))).map(([k, v]) => `${k}=${v}`);
    };
    const commitRandom = async (ns: typeof nsA, step: number): Promise<void> => {
      const writes: Array<[Array<string | number>, string | null]> = [];
      for (let i = rand(5); i >= 0; i--) writes.push([randomKey(), rand(3) === 0 ? null : `v${step}.${i}`]);
      let made: Array<string | number> | null = null;
      if (ns === nsA && rand(4) === 0) {
        // a new directory: nothing was ever written under it
        made = ['e', fresh++];
        for (let i = rand(3); i > 0; i--) writes.push([[...made, `f${i}`], `new${step}`]);
      }
      const res = await ns.commit({ actor: 't', summary: `${step}` }, async (w) => {
        if (made) w.assumeEmpty(made);
        for (const [k, v] of writes) {
          if (v === null) w.delete(k);
          else w.set(k, Buffer.from(v));
        }
      });
      for (const [k, v] of writes) {
        if (v === null) model.delete(JSON.stringify(k));
        else model.set(JSON.stringify(k), v);
      }
      if (made) prefixes.push(made);
      states.push({ version: readVersionOf(res.version!), model: new Map(model) });
    };
    for (let step = 0; step < 150; step++) {
      const r = rand(10);
      if (r === 0) await commitRandom(nsB, step);
      else if (r === 1) await Promise.all([commitRandom(nsA, step), commitRandom(nsA, step + 1000)]); // one group commit
      else await commitRandom(nsA, step);
      const snap = await nsA.snapshot();
      for (const prefix of prefixes) {
        expect(await listed(snap, prefix)).toEqual(expected(model, prefix));
        expect(await listed(snap, prefix, 2)).toEqual(expected(model, prefix).slice(0, 2));
        // a key read through its (now cached) listing: present or absent as in the model
        if (prefix.length < 2) continue;
        for (const key of [[...prefix, `n${rand(6)}`], [...prefix, `n${rand(6)}`, rand(3)], [...prefix, 'absent'], [...prefix, 'f1']]) {
          expect(str(await snap.getUnder(prefix, key)) ?? '', JSON.stringify(key)).toBe(model.get(JSON.stringify(key)) ?? '');
        }
      }
      if (step % 10 === 0) {
        const past = states[rand(states.length)]!;
        const then = await nsA.snapshot(past.version);
        for (const prefix of prefixes) expect(await listed(then, prefix)).toEqual(expected(past.model, prefix));
      }
    }
    // listed again, or after our own commit under it, or made new: no kv read
    const reads = countReads(a);
    await (await nsA.snapshot()).list(['e', 1]);
    await nsA.commit({ actor: 't', summary: 'own' }, async (w) => {
      w.set(['e', 1, 'zz'], Buffer.from('own'));
      w.assumeEmpty(['e', 999]);
      w.set(['e', 999, 'only'], Buffer.from('one'));
    });
    const before = reads.reads;
    const snap = await nsA.snapshot();
    expect((await snap.list(['e', 1])).map((e) => e.key[2])).toContain('zz');
    expect((await snap.list(['e', 999])).map((e) => str(e.value))).toEqual(['one']);
    // and a name looked up in a listed directory, there or not, is answered from the listing
    expect([str(await snap.getUnder(['e', 1], ['e', 1, 'zz'])), await snap.getUnder(['e', 999], ['e', 999, 'never-made'])]).toEqual(['own', undefined]);
    expect(reads.reads).toBe(before);
    // another process's commit is seen at once
    await nsB.commit({ actor: 't', summary: 'other' }, async (w) => w.delete(['e', 999, 'only']));
    expect(await (await nsA.snapshot()).list(['e', 999])).toEqual([]);
    await a.close();
    await b.close();
  });
});
