import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentFs } from '../src/fs/agentfs.js';
import { newInode } from '../src/fs/tx.js';
import { HandleTable } from '../src/fuse/handles.js';
import { COMMIT_DELAY_MS, HEAD_STALE_MS } from '../src/fuse/mount.js';
import { SqliteEngine } from '../src/kv/sqlite.js';
import { DirBlobStore } from '../src/store/blobs/dir.js';
import { Store } from '../src/store/store.js';
import { fmt, now, type Row } from './harness.js';

const FILES = 3000;
const DATA = Buffer.alloc(8000, 'x');

/**
 * What a FUSE mount's store does for each file tar extracts, without the kernel: the create
 * (under a reserved inode number, not committed), one 8 KiB write and tar's owner, mode and times
 * buffered in the write-back, then the close — through the same AgentFs and HandleTable the mount
 * uses (kernel/session.ts createLater), yielding to the event loop between requests as requests
 * from the kernel do. `grouped`: closed files wait to share a commit, as the mount does
 * (HandleTable CLOSED_MS); else each file is committed at its close, as the mount did before.
 * Per file, ms, until everything is committed.
 */
async function perFile(commitDelayMs: number, grouped: boolean): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mount-commits-'));
  const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3'), commitDelayMs }), blobs: new DirBlobStore(path.join(dir, 'blobs')) });
  try {
    const afs = (await AgentFs.open(store, 'bench', { create: true })).withOptions({ actor: 'fuse', staleHeadMs: HEAD_STALE_MS });
    const handles = new HandleTable(afs);
    // the mount's first create commits at once and reserves inode numbers for the next ones
    const mkdir = await afs.transaction('mkdir /d', async (tx) => ({ ino: (await tx.createIn(await tx.slot(1, 'd', '/d'), { type: 'dir', mode: 0o755 })).ino, reserved: await handles.reserveInos(tx) }));
    mkdir.value.reserved?.();
    const dirIno = mkdir.value.ino;
    const next = (): Promise<void> => new Promise((r) => setImmediate(r));
    const start = now();
    for (let i = 0; i < FILES; i++) {
      await next();
      const name = `f${i}.js`;
      const ino = handles.takeIno();
      if (ino === undefined) throw new Error('no reserved inode number left: every create commit reserves more');
      const view = await afs.view();
      const dir = await view.mustInode(dirIno);
      if (await view.lookup(dirIno, name)) throw new Error('exists');
      const h = handles.createOpen(ino, `/d/${name}`, { parentIno: dirIno, name, inode: newInode(dirIno, dir, { type: 'file', mode: 0o600 }, { uid: 0, gid: 0 }, afs.store.clock()) });
      await next();
      await handles.write(h, 0, Buffer.from(DATA));
      await handles.bufferAttr({ ino }, { mtime: 1_700_000_000_000 });
      await handles.bufferAttr({ ino }, { uid: 0, gid: 0 });
      await handles.bufferAttr({ ino }, { mode: 0o644 });
      await next();
      if (!grouped) await handles.flush(h);
      await handles.release(h);
    }
    await handles.commitCreates();
    return (now() - start) / FILES;
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchMountCommits(): Promise<Row[]> {
  // alternating rounds, best of each: the machine is shared
  const deferred: number[] = [];
  const immediate: number[] = [];
  const grouped: number[] = [];
  for (let round = 0; round < 3; round++) {
    deferred.push(await perFile(COMMIT_DELAY_MS, false));
    immediate.push(await perFile(0, false));
    grouped.push(await perFile(COMMIT_DELAY_MS, true));
  }
  const d = Math.min(...deferred);
  const i = Math.min(...immediate);
  const g = Math.min(...grouped);
  return [
    {
      bench: `a file as tar writes it through the mount, in-process (create, 8 KiB write, owner, mode, times: one commit at close): deferred commit (${COMMIT_DELAY_MS} ms, the mount's) ÷ each commit written at once`,
      result: `${(d / i).toFixed(2)} (${fmt(d)} vs ${fmt(i)} per file)`,
    },
    {
      bench: 'the same, files closed one after another sharing a commit (the mount now) ÷ one commit per file',
      result: `${(g / d).toFixed(2)} (${fmt(g)} vs ${fmt(d)} per file)`,
    },
  ];
}
