import crypto from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentFs } from '../../src/fs/agentfs.js';
import { HandleTable } from '../../src/fuse/handles.js';
import { SqliteEngine } from '../../src/kv/sqlite.js';
import { DirBlobStore } from '../../src/store/blobs/dir.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;

/** A chunk store whose puts can be slowed down or made to fail, as a full or slow disk would. */
class FlakyBlobs extends DirBlobStore {
  delayMs = 0;
  failing: Error | null = null;
  override async put(hash: string, data: Buffer): Promise<void> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failing) throw this.failing;
    return super.put(hash, data);
  }
}

const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

/** A handle open for writing on an existing file, through the HandleTable the mount uses. */
async function setup(): Promise<{ afs: AgentFs; blobs: FlakyBlobs; handles: HandleTable; h: ReturnType<HandleTable['open']> }> {
  const dir = tempDir('writeback');
  const blobs = new FlakyBlobs(path.join(dir, 'blobs'));
  const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs });
  stores.push(store);
  const afs = await AgentFs.open(store, 'wb', { create: true });
  await afs.writeFile('/big.bin', Buffer.alloc(0));
  const ino = (await afs.stat('/big.bin')).ino;
  const handles = new HandleTable(afs);
  return { afs, blobs, handles, h: handles.open(ino, '/big.bin', { writable: true }) };
}

describe('write-back of a big file (HandleTable)', () => {
  it('commits every 8 MiB in the background: the write that fills the batch does not wait for the disk, and every byte arrives', async () => {
    const { afs, blobs, handles, h } = await setup();
    const data = crypto.randomBytes(20 * MIB);
    blobs.delayMs = 1500; // each chunk stored takes 1.5 s
    const slowest: number[] = [];
    for (let off = 0; off < data.length; off += MIB) {
      const t = performance.now();
      await handles.write(h, off, Buffer.from(data.subarray(off, off + MIB)));
      slowest.push(performance.now() - t);
    }
    // the 8th write started the first commit and went on at once; the 16th waited for it (one at a time)
    expect(slowest[7]!).toBeLessThan(1000);
    expect(slowest[15]!).toBeGreaterThan(500);
    blobs.delayMs = 0;
    await handles.fsync(h);
    expect((await afs.readFile('/big.bin')).equals(data)).toBe(true);
    await handles.release(h);
  }, 60_000);

  it("a background commit that fails is reported by the handle's next write, then by nothing else; the writes after it still arrive", async () => {
    const { afs, blobs, handles, h } = await setup();
    blobs.failing = new Error('ENOSPC: no space left on device (simulated)');
    for (let i = 0; i < 8; i++) await handles.write(h, i * MIB, Buffer.alloc(MIB, 1));
    await h.writeback;
    blobs.failing = null;
    await expect(handles.write(h, 8 * MIB, Buffer.alloc(MIB, 2))).rejects.toThrow(/no space left/);
    // reported once, like a failed write-back on a local filesystem
    await handles.write(h, 8 * MIB, Buffer.alloc(MIB, 2));
    await handles.fsync(h);
    const st = await afs.stat('/big.bin');
    expect(st.size).toBe(9 * MIB);
    expect((await afs.readFile('/big.bin')).subarray(8 * MIB).equals(Buffer.alloc(MIB, 2))).toBe(true);
    await handles.release(h);
  }, 60_000);

  it('a failed background commit is reported by fsync, or logged at release when nothing else is left to report it', async () => {
    const { blobs, handles, h } = await setup();
    blobs.failing = new Error('EIO: i/o error (simulated)');
    for (let i = 0; i < 8; i++) await handles.write(h, i * MIB, Buffer.alloc(MIB, 1));
    await expect(handles.fsync(h)).rejects.toThrow(/i\/o error/);
    await handles.fsync(h); // reported once

    const second = await setup();
    second.blobs.failing = new Error('EIO: i/o error (simulated)');
    for (let i = 0; i < 8; i++) await second.handles.write(second.h, i * MIB, Buffer.alloc(MIB, 1));
    await second.h.writeback;
    const logged: string[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => void logged.push(args.map(String).join(' '));
    try {
      await expect(second.handles.release(second.h)).rejects.toThrow(/i\/o error/);
    } finally {
      console.error = error;
    }
    expect(logged.join('\n')).toContain('committing what was written to /big.bin failed; those writes are lost');
  }, 60_000);
});
