import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentFs } from '../src/fs/agentfs.js';
import { BLOCK_SIZE } from '../src/fs/types.js';
import { SqliteEngine } from '../src/kv/sqlite.js';
import { DirBlobStore } from '../src/store/blobs/dir.js';
import { Store } from '../src/store/store.js';
import type { Version } from '../src/store/version.js';
import { fmt, interleave, now, printTable, stats, type Row } from './harness.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

async function countChunks(store: Store): Promise<{ n: number; bytes: number }> {
  let n = 0;
  let bytes = 0;
  for await (const b of store.blobs.list()) {
    n++;
    bytes += fs.statSync(path.join((store.blobs as DirBlobStore).root, b.hash.slice(0, 2), b.hash.slice(2, 4), b.hash)).size;
  }
  return { n, bytes };
}

/** Makes a node_modules-like tree: `count` files of 100 B – 20 KiB in nested package dirs. */
export function makeTree(root: string, count: number): number {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const dir = path.join(root, `pkg-${i % 250}`, i % 3 ? 'lib' : 'dist', `m${i % 7}`);
    fs.mkdirSync(dir, { recursive: true });
    const size = 100 + ((i * 7919) % 20_000);
    fs.writeFileSync(path.join(dir, `file-${i}.js`), Buffer.from(`// module ${i}\n`.repeat(Math.ceil(size / 14)).slice(0, size)));
    bytes += size;
  }
  return bytes;
}

export async function benchFs(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fs-'));
  const rows: Row[] = [];
  const store = new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')) });
  try {
    const afs = await AgentFs.open(store, 'bench', { create: true });

    // --- read a file at a version 10,000 commits back vs at head ---
    await afs.mkdir('/work');
    const first = (await afs.writeFile('/work/notes.md', 'version 0\n'.repeat(200)))!;
    for (let i = 1; i <= 10_000; i++) {
      await afs.writeFile('/work/notes.md', `version ${i}\n`.repeat(200));
      if (i % 10 === 0) await afs.writeFile(`/work/noise-${i % 50}.txt`, `noise ${i}`);
    }
    const r1 = await interleave({ head: () => afs.readFile('/work/notes.md'), past: () => afs.readFile('/work/notes.md', first) }, 20, 200);
    const h1 = stats(r1.head!);
    const p1 = stats(r1.past!);
    rows.push({ bench: 'read a file 10,000 commits back ÷ at head (median)', result: `${(p1.median / h1.median).toFixed(2)} (${fmt(p1.median)} vs ${fmt(h1.median)})`, target: '≤ 1.1', ok: p1.median / h1.median <= 1.1 });

    // --- list a 1,000-entry directory at a past version vs head ---
    await afs.transaction('1000 files', async (tx) => {
      await tx.mkdir('/big');
      for (let i = 0; i < 1000; i++) await tx.writeFile(`/big/entry-${String(i).padStart(4, '0')}.txt`, Buffer.from(`entry ${i}`));
    });
    const listed = await afs.head();
    for (let i = 0; i < 2000; i++) {
      // churn in the same directory: temp files created and removed, entries rewritten
      if (i % 2) await afs.rm(`/big/tmp-${i - 1}`);
      else await afs.writeFile(`/big/tmp-${i}`, 'tmp');
      await afs.writeFile(`/big/entry-${String(i % 1000).padStart(4, '0')}.txt`, `rewritten ${i}`);
    }
    const r2 = await interleave({ head: () => afs.readdir('/big'), past: () => afs.readdir('/big', listed as Version) }, 10, 20);
    const h2 = stats(r2.head!);
    const p2 = stats(r2.past!);
    rows.push({ bench: 'list a 1,000-entry directory at a past version ÷ at head (median)', result: `${(p2.median / h2.median).toFixed(2)} (${fmt(p2.median)} vs ${fmt(h2.median)})`, target: '≤ 1.5', ok: p2.median / h2.median <= 1.5 });

    // --- 1-byte edit of a 100 MiB file ---
    const big = randomBytes(100 * 1024 * 1024);
    await afs.transaction('100 MiB', async (tx) => {
      const ino = await tx.openFile('/big.bin', { create: true });
      for (let off = 0; off < big.length; off += 16 * BLOCK_SIZE) await tx.writeIno(ino, off, big.subarray(off, off + 16 * BLOCK_SIZE));
    });
    const before = await countChunks(store);
    await afs.write('/big.bin', 50 * 1024 * 1024 + 123, Buffer.from([big[50 * 1024 * 1024 + 123]! ^ 0xff]));
    const after = await countChunks(store);
    const added = after.n - before.n;
    rows.push({ bench: '1-byte edit of a 100 MiB file: chunks added to history', result: `${added} chunk(s), ${after.bytes - before.bytes} bytes`, target: '≤ 2', ok: added <= 2 });

    // --- import a 5,000-file tree vs cp -r ---
    const src = path.join(dir, 'tree');
    const bytes = makeTree(src, 5000);
    const data = path.join(dir, 'cli-data');
    const cpTimes: number[] = [];
    const importTimes: number[] = [];
    for (let round = 0; round < 2; round++) {
      const dst = path.join(dir, `cp-${round}`);
      let t = now();
      execFileSync('cp', ['-r', src, dst]);
      execFileSync('sync');
      cpTimes.push(now() - t);
      t = now();
      execFileSync(process.execPath, [CLI, '--data', data, 'import', src, `/import-${round}`], { stdio: 'ignore' });
      importTimes.push(now() - t);
    }
    const cp = Math.min(...cpTimes);
    const imp = Math.min(...importTimes);
    rows.push({
      bench: `timefs import of 5,000 files (${(bytes / 1048576).toFixed(0)} MiB) ÷ cp -r + sync on local disk`,
      result: `${(imp / cp).toFixed(1)}× (${Math.round(5000 / (imp / 1000))} files/s; ${fmt(imp)} vs ${fmt(cp)})`,
    });
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('fs', await benchFs());
}
