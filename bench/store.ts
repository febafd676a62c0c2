import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteEngine } from '../src/kv/sqlite.js';
import { DirBlobStore } from '../src/store/blobs/dir.js';
import type { Namespace } from '../src/store/namespace.js';
import { Store } from '../src/store/store.js';
import { readVersionOf, type Version } from '../src/store/version.js';
import { fmt, interleave, now, printTable, sample, stats, type Row } from './harness.js';

const openStore = (dir: string, options: { readCacheBytes?: number } = {}): Store =>
  new Store({ kv: new SqliteEngine({ file: path.join(dir, 'kv.sqlite3') }), blobs: new DirBlobStore(path.join(dir, 'blobs')), ...options });

export async function benchStore(): Promise<Row[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-store-'));
  const store = openStore(dir);
  const rows: Row[] = [];
  try {
    // --- 10,000 commits of one hot key (plus 1,000 cold keys) ---
    const ns = await store.createNamespace('bench');
    await ns.commit({ actor: 'bench', summary: 'cold keys' }, async (w) => {
      for (let i = 0; i < 1000; i++) w.set(['cold', i], Buffer.from(`cold value ${i}`));
    });
    const versions: Version[] = [];
    const t0 = now();
    for (let i = 0; i <= 10_000; i++) {
      const { version } = await ns.commit({ actor: 'bench', summary: `c${i}` }, async (w) => {
        w.set(['hot'], Buffer.from(`value ${i} `.repeat(8)));
        w.set(['cold', i % 1000], Buffer.from(`cold ${i}`));
      });
      versions.push(version!);
    }
    const commitMs = now() - t0;
    rows.push({ bench: 'commits/s, single writer (2 keys per commit)', result: `${Math.round(10_001 / (commitMs / 1000))}/s` });

    // the same reads at head and 10,000 commits back, with the read cache and without it (every
    // read a reverse seek in the kv engine)
    const past = readVersionOf(versions[0]!);
    const pastVsHead = async (n: Namespace, bench: string): Promise<void> => {
      const r = await interleave(
        {
          head: async (i) => (await n.snapshot()).get(['cold', i % 1000]).then(() => n.snapshot()).then((s) => s.get(['hot'])),
          past: async (i) => (await n.snapshot(past)).get(['cold', i % 1000]).then(() => n.snapshot(past)).then((s) => s.get(['hot'])),
        },
        20,
        500,
      );
      const head = stats(r.head!);
      const old = stats(r.past!);
      const ratio = old.median / head.median;
      rows.push({ bench, result: `${ratio.toFixed(2)} (${fmt(old.median)} vs ${fmt(head.median)})`, target: '≤ 1.1', ok: ratio <= 1.1 });
    };
    await pastVsHead(ns, 'read at a version 10,000 commits back ÷ read at head (median)');
    const uncached = openStore(dir, { readCacheBytes: 0 });
    await pastVsHead(await uncached.namespace('bench'), '  the same with the read cache off (every read a kv reverse seek)');
    await uncached.close();

    // --- open a namespace + first read, over 2,000 namespaces (cold handle cache) ---
    const names: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const n = await store.createNamespace(`agent-${i}`);
      await n.commit({ actor: 'bench', summary: 'seed' }, async (w) => w.set(['f'], Buffer.from(`agent ${i}`)));
      names.push(n.name);
    }
    const cold = openStore(dir);
    const open = stats(await sample(async (i) => (await (await cold.namespace(names[i]!)).snapshot()).get(['f']), names.length));
    rows.push({ bench: 'open a namespace + first read (median / p99)', result: `${fmt(open.median)} / ${fmt(open.p99)}`, target: '< 2 ms', ok: open.p99 < 2 });
    await cold.close();

    // --- commits interleaved over 100 namespaces ---
    const many = await Promise.all(names.slice(0, 100).map((n) => store.namespace(n)));
    const t1 = now();
    const N = 5000;
    for (let i = 0; i < N; i++) {
      await many[i % 100]!.commit({ actor: 'bench', summary: 'x' }, async (w) => w.set(['f'], Buffer.from(`v${i}`)));
    }
    rows.push({ bench: 'commits/s, 100 namespaces interleaved', result: `${Math.round(N / ((now() - t1) / 1000))}/s` });
    const t2 = now();
    await Promise.all(many.map(async (n, j) => {
      for (let i = 0; i < N / 100; i++) await n.commit({ actor: 'bench', summary: 'x' }, async (w) => w.set(['f'], Buffer.from(`v${j}-${i}`)));
    }));
    rows.push({ bench: 'commits/s, 100 namespaces concurrently', result: `${Math.round(N / ((now() - t2) / 1000))}/s` });
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('store', await benchStore());
}
