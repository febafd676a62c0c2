import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { S3BlobStore } from '../../src/store/blobs/s3.js';
import type { BlobStore } from '../../src/store/blobs/types.js';
import { StoreError } from '../../src/store/errors.js';
import { Store } from '../../src/store/store.js';
import { S3_CREDENTIALS, startFlakyProxy, startS3 } from '../helpers/s3.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const dir = tempDir('blobs');
let s3: Awaited<ReturnType<typeof startS3>>;
let prefixN = 0;

beforeAll(async () => {
  s3 = await startS3(dir);
});
afterAll(async () => {
  await s3?.close();
});

const s3Store = (endpoint = s3.endpoint, maxAttempts = 4): S3BlobStore =>
  new S3BlobStore({ bucket: 'timefs', prefix: `p${prefixN++}/chunks`, endpoint, forcePathStyle: true, credentials: S3_CREDENTIALS, maxAttempts });

const backends: Array<[string, () => BlobStore]> = [
  ['dir', () => new DirBlobStore(path.join(dir, `d${prefixN++}`))],
  ['s3 (s3rver on loopback)', () => s3Store()],
];

for (const [name, make] of backends) {
  describe(`blob store: ${name}`, () => {
    it('puts, gets, lists and deletes content-addressed chunks', async () => {
      const blobs = make();
      const a = Buffer.from('hello chunk');
      const b = Buffer.alloc(300_000, 7);
      await blobs.put(sha(a), a);
      await blobs.put(sha(b), b);
      await blobs.put(sha(a), a); // idempotent
      expect((await blobs.get(sha(a))).equals(a)).toBe(true);
      expect((await blobs.get(sha(b))).equals(b)).toBe(true);
      const listed: string[] = [];
      for await (const info of blobs.list()) {
        listed.push(info.hash);
        expect(Date.now() - info.modified.getTime()).toBeLessThan(60_000);
      }
      expect(listed.sort()).toEqual([sha(a), sha(b)].sort());
      await blobs.delete(sha(a));
      await expect(blobs.get(sha(a))).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'BLOB_MISSING');
      await blobs.close();
    });

    it('serves a store end to end, including GC sweeps', async () => {
      const store = new Store({ kv: new SqliteEngine({ file: ':memory:' }), blobs: make(), retentionMs: 0 });
      const ns = await store.createNamespace('s3ns');
      const ref1 = await store.putBlob(Buffer.from('version one'));
      await ns.commit({ actor: 't', summary: '1' }, async (w) => w.set(['f'], ref1));
      const ref2 = await store.putBlob(Buffer.from('version two'));
      await ns.commit({ actor: 't', summary: '2' }, async (w) => w.set(['f'], ref2));
      const report = await store.gc({ graceMs: 0, now: Date.now() + 10 });
      expect(report.chunksRemoved).toBe(1);
      expect((await store.blobs.get(ref2.hash)).toString()).toBe('version two');
      await store.close();
    });
  });
}

describe('S3 failures', () => {
  it('retries throttled uploads with backoff until they succeed', async () => {
    const proxy = await startFlakyProxy(s3.endpoint, 2);
    const blobs = s3Store(proxy.endpoint, 5);
    const data = Buffer.from('survives two 503s');
    await blobs.put(sha(data), data);
    expect(proxy.puts()).toBe(3);
    expect((await blobs.get(sha(data))).equals(data)).toBe(true);
    await blobs.close();
    await proxy.close();
  });

  it('commits nothing when an upload keeps failing', async () => {
    const proxy = await startFlakyProxy(s3.endpoint, Infinity);
    const store = new Store({ kv: new SqliteEngine({ file: ':memory:' }), blobs: s3Store(proxy.endpoint, 2) });
    const ns = await store.createNamespace('n');
    const head = await ns.head();
    await expect(
      ns.commit({ actor: 't', summary: 'upload' }, async (w) => {
        const ref = await store.putBlob(Buffer.from('never stored'));
        w.set(['f'], ref);
      }),
    ).rejects.toThrow();
    expect(await ns.head()).toBe(head);
    expect(await (await ns.snapshot()).get(['f'])).toBeUndefined();
    expect(proxy.puts()).toBe(2);
    await store.close();
    await proxy.close();
  });
});

describe('chunk cache', () => {
  it('loads a chunk once however many readers ask for it at the same time, and retries after a failed load', async () => {
    const root = path.join(dir, 'shared-loads');
    const writer = new Store({ kv: new SqliteEngine({ file: ':memory:' }), blobs: new DirBlobStore(root) });
    const data = Buffer.alloc(1024 * 1024, 9);
    const ref = await writer.putBlob(data);
    await writer.close();
    // a cold cache: the kernel's read-ahead asks for eight 128 KiB pieces of one chunk at once
    const inner = new DirBlobStore(root);
    let gets = 0;
    let failNext = true;
    const counting: BlobStore = Object.assign(Object.create(inner) as BlobStore, {
      get: async (hash: string) => {
        gets++;
        if (failNext) {
          failNext = false;
          throw new Error('injected read failure');
        }
        return inner.get(hash);
      },
    });
    const reader = new Store({ kv: new SqliteEngine({ file: ':memory:' }), blobs: counting });
    const failed = await Promise.allSettled(Array.from({ length: 8 }, () => reader.getBlob(ref)));
    // all eight shared the one load, and its failure: nothing was cached
    expect(failed.every((r) => r.status === 'rejected')).toBe(true);
    expect(gets).toBe(1);
    const loaded = await Promise.all(Array.from({ length: 8 }, () => reader.getBlob(ref)));
    expect(gets).toBe(2);
    expect(loaded.every((b) => b.equals(data))).toBe(true);
    // then from the cache
    expect((await reader.getBlob(ref)).equals(data)).toBe(true);
    expect(gets).toBe(2);
    await reader.close();
  });
});
